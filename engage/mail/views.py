"""Admin: send a test email to yourself to check the mail set-up; see mail that failed."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from engage.accounts.access import role_required
from engage.extensions import db
from engage.mail import emails
from engage.mail.message import mask_address
from engage.mail.service import queue_email
from engage.sending import outbox

bp = Blueprint("mail", __name__)


@bp.post("/admin/mail/test")
@login_required
def send_test():
    address = current_user.email
    queue_email("test_message", address, emails.test_message(address))
    db.session.commit()
    flash(f"Test email queued for {address}.", "info")
    return redirect(url_for("accounts.dashboard"))


@bp.get("/admin/mail/failed")
@role_required("editor")
def failed():
    """Email that could not be sent within the retry window, with the server's last reply."""
    rows = outbox.failed_mail(db.session)
    return render_template("mail/failed.html", rows=rows, mask=mask_address)


@bp.post("/admin/mail/failed/<int:row_id>/retry")
@role_required("editor")
def retry(row_id: int):
    """Give a failed email a fresh retry window (after fixing the mail set-up, say)."""
    if outbox.retry_failed(db.session, row_id):
        db.session.commit()
        flash("The email is queued again.", "info")
    else:
        flash("That email is no longer in the failed list.", "error")
    return redirect(url_for("mail.failed"))
