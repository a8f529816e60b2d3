"""The admin's "send a test email" button: the parts that need no worker.

The successful send (queued, delivered by a real worker) is in tests/workers.
"""

from engage.accounts.service import create_user
from tests.conftest import csrf_token


def test_sending_a_test_email_needs_a_signed_in_user(client):
    token = csrf_token(client, "/login")
    response = client.post("/admin/mail/test", data={"csrf_token": token})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sending_a_test_email_needs_the_csrf_token(client, db, ctx):
    user = create_user(db.session, "editor@example.org", "a long enough password", "editor")
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    response = client.post("/admin/mail/test")
    assert response.status_code == 400


def test_the_route_is_post_only(client):
    assert client.get("/admin/mail/test").status_code == 405
