"""Admin: send a test email to yourself to check the mail set-up."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from engage.extensions import db
from engage.mail import emails
from engage.mail.service import queue_email

bp = Blueprint("mail", __name__)


@bp.post("/admin/mail/test")
@login_required
def send_test():
    address = current_user.email
    queue_email("test_message", address, emails.test_message(address))
    db.session.commit()
    flash(f"Test email queued for {address}.", "info")
    return redirect(url_for("accounts.dashboard"))
