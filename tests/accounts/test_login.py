import re

from engage.accounts.models import User
from tests.accounts.conftest import PASSWORD
from tests.conftest import csrf_token


def _login(client, email, password, next_url=None):
    token = csrf_token(client, "/login")
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def test_staff_sign_in_reaches_the_admin(client, editor):
    response = _login(client, "editor@example.org", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "Signed in as editor@example.org (editor)" in page


def test_sign_in_records_the_time(client, editor, db):
    _login(client, "EDITOR@example.org", PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, editor.id).last_login_at is not None


def test_wrong_password_and_unknown_address_get_the_same_answer(client, editor):
    wrong = _login(client, "editor@example.org", "not the password at all")
    unknown = _login(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = "That email address and password do not match an account."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_the_admin_needs_a_signed_in_user(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_next_only_goes_to_our_own_pages(client, editor):
    assert (
        _login(client, "editor@example.org", PASSWORD, "//evil.example/").headers["Location"]
        == "/admin/"
    )
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert (
        _login(client, "editor@example.org", PASSWORD, "/admin/").headers["Location"] == "/admin/"
    )


def test_sign_out_is_a_post_with_csrf(client, editor):
    _login(client, "editor@example.org", PASSWORD)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_repeated_failed_sign_ins_are_rate_limited(client, editor):
    statuses = [
        _login(client, "editor@example.org", f"wrong password {i}").status_code for i in range(6)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    page = _login(client, "editor@example.org", PASSWORD)
    assert page.status_code == 429
    assert "Too many attempts" in page.get_data(as_text=True)


def test_passwords_are_stored_with_scrypt(editor):
    assert editor.password_hash.startswith("scrypt:")
    assert PASSWORD not in editor.password_hash


def test_login_page_labels_its_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<label for="email">', page)
    assert re.search(r'<label for="password">', page)
