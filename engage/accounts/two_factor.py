"""TOTP two-factor sign-in for staff (RFC 6238, with pyotp) and one-time recovery codes.

The TOTP secret is stored encrypted (Fernet, with a key derived from each of SECRET_KEYS, so
key rotation keeps old secrets readable) and never logged. Recovery codes carry 80 random
bits, so a SHA-256 of each is stored, like API keys. Flushes, never commits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy.orm import Session

from engage.accounts.models import User
from engage.types import utcnow

RECOVERY_CODES = 10
# Codes from one step before or after now are accepted too: phones' clocks drift.
VALID_WINDOW = 1


def _fernet() -> MultiFernet:
    keys = current_app.config["ENGAGE"].secret_keys
    # MultiFernet encrypts with the first key; SECRET_KEYS lists the newest last.
    return MultiFernet(
        [
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"engage.totp:" + k.encode()).digest()))
            for k in reversed(keys)
        ]
    )


def _secret(user: User) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _fernet().decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:
        return None  # encrypted under a key no longer listed: set-up must start again


def start_setup(session: Session, user: User) -> str:
    """A new secret for `user`, pending until `confirm_setup` (flushed); returns it."""
    secret = pyotp.random_base32()
    user.totp_secret = _fernet().encrypt(secret.encode()).decode()
    user.totp_enabled = False
    user.totp_last_counter = None
    session.flush()
    return secret


def pending_secret(user: User) -> str | None:
    """The secret of a set-up not confirmed yet, or None."""
    return None if user.totp_enabled else _secret(user)


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads (as text or a QR code)."""
    issuer = current_app.config["ENGAGE"].site_name
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def _accept_code(user: User, secret: str, code: str) -> bool:
    """Whether `code` is current for `secret` and newer than the last one accepted; records
    its time step so the same code (or an older one) never works again."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for counter in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if user.totp_last_counter is not None and counter <= user.totp_last_counter:
            continue
        if hmac.compare_digest(totp.generate_otp(counter), code):
            user.totp_last_counter = counter
            return True
    return False


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").lower().encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits, 16 chars
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    user.recovery_codes = json.dumps([_code_hash(code) for code in codes])
    return codes


def confirm_setup(session: Session, user: User, code: str) -> list[str] | None:
    """Turn two-factor on if `code` matches the pending secret; returns the recovery codes
    (shown once), or None for a wrong code. Flushed."""
    secret = pending_secret(user)
    if secret is None or not _accept_code(user, secret, code):
        return None
    user.totp_enabled = True
    codes = _new_recovery_codes(user)
    session.flush()
    return codes


def verify(session: Session, user: User, code: str) -> bool:
    """Whether `code` (a TOTP code, or an unused recovery code, which is then spent) lets
    `user` in. Flushed either way, so a used code stays used."""
    if not user.totp_enabled:
        return False
    secret = _secret(user)
    accepted = secret is not None and _accept_code(user, secret, code)
    if not accepted:
        accepted = _spend_recovery_code(user, code)
    session.flush()
    return accepted


def _spend_recovery_code(user: User, code: str) -> bool:
    hashes = json.loads(user.recovery_codes or "[]")
    given = _code_hash("".join(code.split()))
    for stored in hashes:
        if hmac.compare_digest(stored, given):
            hashes.remove(stored)
            user.recovery_codes = json.dumps(hashes)
            return True
    return False


def recovery_codes_left(user: User) -> int:
    return len(json.loads(user.recovery_codes or "[]"))


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace every recovery code (the old ones stop working); returns the new ones."""
    codes = _new_recovery_codes(user)
    session.flush()
    return codes


def disable(session: Session, user: User) -> None:
    """Turn two-factor off and forget the secret and recovery codes (flushed)."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_counter = None
    user.recovery_codes = None
    session.flush()


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (drawn here: no third-party QR service sees it)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#1f2933")
