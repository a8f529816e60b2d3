"""/admin/staff: invitations by email with a single-use link, role changes and deactivation
with the guards that keep an admin in charge, and the admins-only rule."""

from __future__ import annotations

import re
import time

import pytest
from flask import g
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from engage.accounts import service
from engage.accounts.models import User
from engage.extensions import db as _db
from tests.accounts.conftest import PASSWORD
from tests.conftest import csrf_token

NEW_PASSWORD = "a fresh and long password"


class SignedLongAgo(TimestampSigner):
    """Signs as if 73 hours ago: itsdangerous reads a token's age from the token."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 73 * 3600


def as_a_new_request() -> None:
    """Forget what the last request left in the shared app context (see test_sessions)."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    _db.session.expire_all()


def sign_in(client, email: str, password: str = PASSWORD):
    as_a_new_request()
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin(ctx, db):
    user = service.create_user(db.session, "admin@example.org", PASSWORD, "admin", "Alex Admin")
    db.session.commit()
    return user


@pytest.fixture
def admin_client(client, admin):
    assert sign_in(client, admin.email).status_code == 302
    return client


def invite(client, email="robin@example.org", name="Robin", role="moderator"):
    as_a_new_request()
    token = csrf_token(client, "/admin/staff")
    return client.post(
        "/admin/staff",
        data={"email": email, "name": name, "role": role, "csrf_token": token},
        follow_redirects=True,
    )


def post_form(client, url: str, **data):
    as_a_new_request()
    data["csrf_token"] = csrf_token(client, "/admin/staff")
    return client.post(url, data=data, follow_redirects=True)


def invite_link(tasks, smtp_server, address: str) -> str:
    tasks.run()
    [received] = [m for m in smtp_server.messages if address in m.rcpt_tos]
    message = received.message
    assert message["To"] == address
    assert message["Subject"] == "You are invited to the staff of Engage"
    assert "List-Unsubscribe" not in message  # transactional mail
    body = message.get_body(("plain",)).get_content()
    assert "Alex Admin invited you to work on Engage as a moderator" in body
    assert "The link works once, for 72 hours." in body
    return re.search(r"Set my password\s*\((http://engage\.test/staff/invite/[^)\s]+)\)", body)[1]


def set_password(client, link: str, password=NEW_PASSWORD, confirm=None):
    path = link.removeprefix("http://engage.test")
    as_a_new_request()
    token = csrf_token(client, path)
    return client.post(
        path, data={"password": password, "confirm": confirm or password, "csrf_token": token}
    )


def test_an_invitation_arrives_sets_a_password_once_and_the_person_signs_in(
    app, admin_client, db, tasks, smtp_server
):
    page = invite(admin_client)
    assert "Invited robin@example.org" in text(page)
    row = db.session.query(User).filter_by(email="robin@example.org").one()
    assert (row.role, row.active, row.display_name) == ("moderator", False, "Robin")
    assert "robin@example.org" in text(page) and "Invited" in text(page)
    # Not usable before the password is set.
    assert sign_in(app.test_client(), "robin@example.org", NEW_PASSWORD).status_code == 401

    link = invite_link(tasks, smtp_server, "robin@example.org")
    reader = app.test_client()
    as_a_new_request()
    form = reader.get(link.removeprefix("http://engage.test"))
    assert form.status_code == 200 and "Choose your password" in text(form)
    assert form.headers["Cache-Control"] == "no-store"

    mismatch = set_password(reader, link, confirm="something else entirely")
    assert mismatch.status_code == 400 and "The two passwords are not the same." in text(mismatch)
    short = set_password(reader, link, password="short")
    assert short.status_code == 400 and "at least 12 characters" in text(short)

    done = set_password(reader, link)
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    as_a_new_request()
    row = db.session.get(User, row.id)
    assert row.active and row.invite_secret is None

    again = reader.get(link.removeprefix("http://engage.test"))
    assert again.status_code == 410
    assert "This invitation was already used or replaced." in text(again)
    as_a_new_request()
    token = csrf_token(reader, "/login")
    second = reader.post(
        link.removeprefix("http://engage.test"),
        data={
            "password": "another long password",
            "confirm": "another long password",
            "csrf_token": token,
        },
    )
    assert second.status_code == 410

    assert sign_in(reader, "robin@example.org", NEW_PASSWORD).status_code == 302
    as_a_new_request()
    assert "Signed in as robin@example.org (moderator)" in text(reader.get("/admin/"))


def test_an_expired_or_broken_invitation_is_refused_with_a_message(app, admin_client, db):
    invite(admin_client)
    row = db.session.query(User).filter_by(email="robin@example.org").one()
    key = app.config["ENGAGE"].secret_keys[-1]
    old = URLSafeTimedSerializer(key, salt="engage.staff-invite", signer=SignedLongAgo)
    token = old.dumps({"u": row.id, "lk": row.invite_secret})
    expired = app.test_client().get(f"/staff/invite/{token}")
    assert expired.status_code == 410
    assert "This invitation has expired: invitations work for 72 hours." in text(expired)

    broken = app.test_client().get(f"/staff/invite/{token[:-3]}")
    assert broken.status_code == 404 and "not valid" in text(broken)


def test_bad_invitations_get_messages(admin_client, admin, db):
    assert "is already on the staff list" in text(invite(admin_client, email="ADMIN@example.org"))
    bad = invite(admin_client, email="not an address")
    assert bad.status_code == 400 and 'aria-invalid="true"' in text(bad)
    assert "The role must be one of" in text(invite(admin_client, role="owner"))
    assert db.session.query(User).count() == 1


def test_role_changes_and_the_guards_on_admins(app, admin_client, admin, db):
    editor = service.create_user(db.session, "eda@example.org", PASSWORD, "editor")
    db.session.commit()
    page = post_form(admin_client, f"/admin/staff/{editor.id}/role", role="admin")
    assert "eda@example.org is now an admin." in text(page)

    # Two admins: either may demote the other, never themselves.
    page = post_form(admin_client, f"/admin/staff/{admin.id}/role", role="editor")
    assert "You cannot change your own role; ask another admin." in text(page)
    page = post_form(admin_client, f"/admin/staff/{admin.id}/deactivate")
    assert "You cannot deactivate your own account." in text(page)
    page = post_form(admin_client, f"/admin/staff/{editor.id}/role", role="moderator")
    assert "eda@example.org is now a moderator." in text(page)
    page = post_form(admin_client, f"/admin/staff/{editor.id}/role", role="owner")
    assert "The role must be one of admin, editor, moderator." in text(page)
    as_a_new_request()
    assert db.session.get(User, editor.id).role == "moderator"
    assert db.session.get(User, admin.id).role == "admin"


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app, admin_client, admin, db):
    # A deactivated admin does not count; ola, the other active admin, is deactivated by
    # admin@, who is then the last one: ola, reactivated, cannot demote or deactivate them.
    spare = service.create_user(db.session, "spare@example.org", PASSWORD, "admin")
    service.set_active(db.session, spare, False)
    ola = service.create_user(db.session, "ola@example.org", PASSWORD, "admin")
    db.session.commit()
    ola_client = app.test_client()
    assert sign_in(ola_client, ola.email).status_code == 302
    page = post_form(ola_client, f"/admin/staff/{ola.id}/role", role="editor")
    assert "You cannot change your own role" in text(page)

    # admin@ demotes ola to editor: allowed, two admins were active.
    page = post_form(admin_client, f"/admin/staff/{ola.id}/role", role="editor")
    assert "ola@example.org is now an editor." in text(page), re.findall(
        r"flash[^>]*>([^<]*)", text(page)
    )
    # Now admin@ is the last active admin. Another admin (spare, reactivated later) is needed
    # to try: the guard holds against anyone, not only oneself.
    from engage.accounts import staff

    as_a_new_request()
    actor = db.session.get(User, ola.id)
    target = db.session.get(User, admin.id)
    with pytest.raises(service.AccountError, match="last active admin"):
        staff.change_role(db.session, actor, target, "editor")
    with pytest.raises(service.AccountError, match="last active admin"):
        staff.set_staff_active(db.session, actor, target, False)
    db.session.rollback()
    as_a_new_request()
    assert db.session.get(User, admin.id).role == "admin"


def test_deactivating_ends_the_persons_sessions(app, admin_client, db):
    editor = service.create_user(db.session, "eda@example.org", PASSWORD, "editor")
    db.session.commit()
    editor_client = app.test_client()
    assert sign_in(editor_client, "eda@example.org").status_code == 302
    as_a_new_request()
    assert editor_client.get("/admin/").status_code == 200

    page = post_form(admin_client, f"/admin/staff/{editor.id}/deactivate")
    assert "every session of theirs has ended" in text(page)
    as_a_new_request()
    assert editor_client.get("/admin/").status_code == 302
    assert sign_in(editor_client, "eda@example.org").status_code == 401


def test_staff_pages_are_for_admins_only(app, client, db, ctx):
    editor = service.create_user(db.session, "eda@example.org", PASSWORD, "editor")
    db.session.commit()
    assert client.get("/admin/staff").status_code == 302  # signed out: to the login page
    assert sign_in(client, "eda@example.org").status_code == 302
    as_a_new_request()
    assert client.get("/admin/staff").status_code == 403
    as_a_new_request()
    token = csrf_token(client, "/admin/")
    for url in (
        "/admin/staff",
        f"/admin/staff/{editor.id}/role",
        f"/admin/staff/{editor.id}/deactivate",
    ):
        as_a_new_request()
        assert client.post(url, data={"csrf_token": token, "role": "admin"}).status_code == 403
    as_a_new_request()
    assert "/admin/staff" not in text(client.get("/admin/"))


def test_the_admin_page_links_to_staff(admin_client):
    as_a_new_request()
    assert 'href="/admin/staff"' in text(admin_client.get("/admin/"))


def test_forms_need_their_csrf_token(admin_client, admin):
    as_a_new_request()
    assert admin_client.post(f"/admin/staff/{admin.id}/deactivate").status_code == 400
