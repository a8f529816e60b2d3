"""The editor's screen for the directory: approve or reject submissions (the reason is emailed
to the organiser), check organisers' edits of approved listings, unlist.

Every page needs a signed-in editor (403 otherwise); every action is a POST with a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from engage.accounts.access import require_role
from engage.community import emails, service
from engage.community.forms import ButtonForm, RejectForm
from engage.community.models import Event, SupportGroup
from engage.extensions import db

bp = Blueprint("community_admin", __name__, url_prefix="/admin/community")

MODELS = {"group": SupportGroup, "event": Event}


@bp.before_request
def _editors_only():
    return require_role("editor")


def _listing(kind: str, listing_id: int):
    model = MODELS.get(kind)
    listing = db.session.get(model, listing_id) if model and listing_id < 2**31 else None
    if listing is None:
        abort(404)
    return listing


@bp.get("")
def index():
    return render_template(
        "community/admin.html",
        queue=service.review_queue(db.session),
        button=ButtonForm(),
        reject_form=RejectForm(),
        kind_of=service.kind_of,
        title_of=service.title_of,
        formats=service.FORMAT_LABELS,
        run_by_labels=service.RUN_BY_LABELS,
    )


def _require_button() -> None:
    if not ButtonForm().validate_on_submit():
        flash("The form expired. Please try again.", "error")
        abort(redirect(url_for(".index"), code=303))


@bp.post("/<kind>/<int:listing_id>/approve")
def approve(kind: str, listing_id: int):
    listing = _listing(kind, listing_id)
    _require_button()
    if service.approve(db.session, listing):
        emails.queue_approved(listing)
        flash(f"Listed “{service.title_of(listing)}”.", "success")
    else:
        flash(f"“{service.title_of(listing)}” was already listed; marked as checked.", "success")
    db.session.commit()
    return redirect(url_for(".index"), code=303)


@bp.post("/<kind>/<int:listing_id>/checked")
def checked(kind: str, listing_id: int):
    listing = _listing(kind, listing_id)
    _require_button()
    service.mark_checked(db.session, listing)
    db.session.commit()
    flash(f"Marked the changes to “{service.title_of(listing)}” as checked.", "success")
    return redirect(url_for(".index"), code=303)


@bp.post("/<kind>/<int:listing_id>/reject")
def reject(kind: str, listing_id: int):
    listing = _listing(kind, listing_id)
    form = RejectForm()
    if not form.validate_on_submit():
        flash("The form expired. Please try again.", "error")
        return redirect(url_for(".index"), code=303)
    try:
        service.reject(db.session, listing, form.reason.data or "")
    except service.ListingInvalid as exc:
        db.session.rollback()
        flash(exc.errors["reason"], "error")
        return redirect(url_for(".index"), code=303)
    emails.queue_rejected(listing)
    db.session.commit()
    flash(f"Not listed: “{service.title_of(listing)}”. The organiser has been told why.", "success")
    return redirect(url_for(".index"), code=303)
