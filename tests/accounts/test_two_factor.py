"""TOTP two-factor sign-in: set-up with a wrong and a right code, the second sign-in step, a
replayed code refused, recovery codes that work once, and STAFF_2FA=required."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest

from engage.accounts import service
from engage.accounts.models import User
from tests.accounts.conftest import PASSWORD
from tests.accounts.test_staff import as_a_new_request, sign_in, text
from tests.conftest import csrf_token

SETUP = "/admin/account/2fa"


@pytest.fixture
def editor(ctx, db):
    user = service.create_user(db.session, "eda@example.org", PASSWORD, "editor", "Eda")
    db.session.commit()
    return user


def post_setup(client, **data):
    as_a_new_request()
    data["csrf_token"] = csrf_token(client, SETUP)
    return client.post(SETUP, data=data)


def enable(client) -> tuple[str, list[str]]:
    """Turn two-factor on through the page; returns the secret and the recovery codes."""
    started = post_setup(client, action="start")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', text(started))[1]
    page = post_setup(client, action="confirm", code=pyotp.TOTP(secret).now())
    assert page.status_code == 200 and "Two-factor sign-in is on" in text(page)
    codes = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", text(page))
    assert len(codes) == 10
    return secret, codes


def not_a_code_now(secret: str) -> str:
    """A 6-digit code that none of the accepted time steps around now gives."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(UTC))
    valid = {totp.generate_otp(step) for step in range(now - 2, now + 3)}
    return next(code for code in ("123456", "654321", "111111", "999999") if code not in valid)


def send_code(client, code: str):
    as_a_new_request()
    token = csrf_token(client, "/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def test_set_up_refuses_a_wrong_code_and_accepts_the_right_one(client, editor, db):
    assert sign_in(client, editor.email).status_code == 302
    as_a_new_request()
    page = client.get(SETUP)
    assert "Two-factor sign-in is <strong>off</strong>" in text(page)

    started = post_setup(client, action="start")
    body = text(started)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', body)[1]
    assert "otpauth://totp/" in body and "<svg" in body  # the QR code, drawn here
    assert started.headers["Cache-Control"] == "no-store"
    as_a_new_request()
    stored = db.session.get(User, editor.id).totp_secret
    assert secret not in stored  # encrypted at rest

    wrong = post_setup(client, action="confirm", code=not_a_code_now(secret))
    assert wrong.status_code == 400 and "That code did not match." in text(wrong)
    as_a_new_request()
    assert db.session.get(User, editor.id).totp_enabled is False

    right = post_setup(client, action="confirm", code=pyotp.TOTP(secret).now())
    assert "Keep these recovery codes somewhere safe" in text(right)
    as_a_new_request()
    row = db.session.get(User, editor.id)
    assert row.totp_enabled
    codes = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", text(right))
    assert len(codes) == 10 and not any(code in row.recovery_codes for code in codes)


def test_sign_in_asks_for_the_code_and_refuses_it_twice(app, client, editor, db):
    assert sign_in(client, editor.email).status_code == 302
    secret, _ = enable(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})

    other = app.test_client()
    first = sign_in(other, editor.email)
    assert first.status_code == 302 and first.headers["Location"] == "/login/code"
    as_a_new_request()
    assert other.get("/admin/").status_code == 302  # the password alone opens nothing

    # The code used to confirm the set-up is spent already: the next window's code is needed.
    as_a_new_request()
    used = db.session.get(User, editor.id).totp_last_counter
    totp = pyotp.TOTP(secret)
    code = totp.generate_otp(used + 1)
    wrong = send_code(other, not_a_code_now(secret))
    assert wrong.status_code == 401 and "That code did not work." in text(wrong)
    done = send_code(other, code)
    assert done.status_code == 302 and done.headers["Location"] == "/admin/"
    as_a_new_request()
    assert "Signed in as eda@example.org" in text(other.get("/admin/"))

    # Replayed within its window on another device: refused.
    thief = app.test_client()
    assert sign_in(thief, editor.email).headers["Location"] == "/login/code"
    replay = send_code(thief, code)
    assert replay.status_code == 401
    as_a_new_request()
    assert thief.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(app, client, editor):
    assert sign_in(client, editor.email).status_code == 302
    _, codes = enable(client)
    phone_lost = app.test_client()
    assert sign_in(phone_lost, editor.email).headers["Location"] == "/login/code"
    assert send_code(phone_lost, codes[0].upper()).status_code == 302
    as_a_new_request()
    assert "9 recovery codes left" in text(phone_lost.get(SETUP))

    again = app.test_client()
    assert sign_in(again, editor.email).headers["Location"] == "/login/code"
    assert send_code(again, codes[0]).status_code == 401


def test_the_code_step_is_rate_limited_and_needs_the_password_first(app, client, editor):
    assert client.get("/login/code").headers["Location"] == "/login"
    assert sign_in(client, editor.email).status_code == 302
    enable(client)
    guesser = app.test_client()
    sign_in(guesser, editor.email)
    statuses = [send_code(guesser, f"{i:06d}").status_code for i in range(6)]
    assert statuses[-1] == 429 and 302 not in statuses


def test_staff_2fa_required_sends_staff_to_set_up_first(app, client, editor, monkeypatch):
    monkeypatch.setattr(app.config["ENGAGE"], "staff_2fa", "required")
    assert sign_in(client, editor.email).status_code == 302
    as_a_new_request()
    for path in ("/admin/", "/admin/comments/", "/admin/newsletters/"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == SETUP, path
    as_a_new_request()
    page = text(client.get(SETUP, follow_redirects=True))
    assert "It is required here: set it up to continue." in page
    enable(client)
    as_a_new_request()
    assert client.get("/admin/").status_code == 200
    as_a_new_request()
    assert "Turn two-factor sign-in off" not in text(client.get(SETUP))


def test_turning_two_factor_off_needs_a_code(client, editor, db):
    assert sign_in(client, editor.email).status_code == 302
    secret, _ = enable(client)
    refused = post_setup(client, action="disable", code="not a code")
    assert refused.status_code == 400 and "stays on" in text(refused)
    as_a_new_request()
    counter = db.session.get(User, editor.id).totp_last_counter
    post_setup(client, action="disable", code=pyotp.TOTP(secret).generate_otp(counter + 1))
    as_a_new_request()
    row = db.session.get(User, editor.id)
    assert not row.totp_enabled and row.totp_secret is None
