from engage.accounts.models import User


def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Need help now?" in response.get_data(as_text=True)


def test_savepoint_isolation_first(ctx, db):
    db.session.add(User(email="a@example.org", password_hash="x", role="admin"))
    db.session.commit()
    assert db.session.query(User).count() == 1


def test_savepoint_isolation_second(ctx, db):
    assert db.session.query(User).count() == 0
