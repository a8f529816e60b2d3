"""Reader-facing subscription pages: sign-up, confirmation, unsubscribe, preferences.

Links in emails open a page whose button POSTs, so a link scanner's GET changes nothing.
The one exception is the RFC 8058 one-click POST to /u/<id>, which needs no page.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from engage.core.security import no_store
from engage.extensions import csrf, db, limiter
from engage.subscriptions import consent, service
from engage.subscriptions import emails as subscription_emails
from engage.subscriptions.emails import queue_signup_email
from engage.subscriptions.forms import (
    ConfirmActionForm,
    EraseForm,
    PreferencesForm,
    SignUpForm,
)
from engage.subscriptions.models import Subscriber, Topic
from engage.tokens import TokenError, link_key_matches, make_link_token, read_token

bp = Blueprint("subscriptions", __name__)

# However many addresses try it, one address is signed up at most this often.
ADDRESS_LIMIT = "5 per hour;10 per day"


def _signup_limit() -> str:
    return current_app.config["ENGAGE"].signup_rate_limit


def _address_key() -> str:
    """Rate-limit key for the submitted address: a keyed hash, never the address itself."""
    submitted = (request.form.get("email") or "").strip()[:320]
    try:
        # Every spelling of one mailbox shares one budget.
        submitted = service.normalise_email(submitted)
    except service.InvalidAddress:
        submitted = submitted.lower()
    return "address:" + service.address_hash(submitted)


def topic_choices() -> list[tuple[str, str]]:
    topics = db.session.scalars(select(Topic).order_by(Topic.is_default.desc(), Topic.name)).all()
    return [(t.slug, t.name) for t in topics]


def _source(raw: str | None) -> str:
    raw = (raw or request.referrer or "").strip()
    try:
        path = urlsplit(raw).path if raw else ""
    except ValueError:  # "http://[::1": the page is not known, the sign-up still counts
        path = ""
    return f"form:{path or '/subscribe'}"[:300]


def _signup_page(state: dict | None = None, status: int = 200):
    return render_template("subscriptions/subscribe.html", state=state), status


@bp.route("/subscribe", methods=["GET", "POST"])
@csrf.exempt  # the form itself checks its token, so a stale one keeps what the reader typed
@limiter.limit(_signup_limit, methods=["POST"])
@limiter.limit(ADDRESS_LIMIT, methods=["POST"], key_func=_address_key)
def subscribe():
    if request.method == "GET":
        return _signup_page()
    form = SignUpForm()
    state = {
        "email": (form.email.data or "")[:320],
        "topics": form.chosen_topics(),
        "digest": form.chosen_digest(),
        "source": (form.source.data or "")[:300],
        "errors": {},
    }
    # Every problem at once: an expired form and each field's own message, in one answer.
    form.validate_on_submit()
    errors = service.sign_up_problems(db.session, state["email"], state["topics"], state["digest"])
    if "csrf_token" in form.errors:
        errors = {"form": "This form expired. Please press Subscribe again.", **errors}
    if errors:
        state["errors"] = {name: [message] for name, message in errors.items()}
        return _signup_page(state, 400)
    if form.website.data:
        # A bot filled the honeypot: answer exactly as for a person, record nothing.
        return redirect(url_for("subscriptions.check_email"), code=303)
    try:
        outcome = service.sign_up(
            db.session,
            state["email"],
            topics=state["topics"],
            digest=state["digest"],
            source=_source(state["source"]),
        )
    except service.InvalidAddress as exc:
        db.session.rollback()
        state["errors"] = {"email": [str(exc)]}
        return _signup_page(state, 400)
    except service.InvalidChoice as exc:
        db.session.rollback()
        state["errors"] = {exc.field: [str(exc)]}
        return _signup_page(state, 400)
    queue_signup_email(outcome)
    db.session.commit()
    return redirect(url_for("subscriptions.check_email"), code=303)


@bp.get("/subscribe/check-your-email")
def check_email():
    return render_template(
        "subscriptions/check_email.html",
        hours=current_app.config["ENGAGE"].confirm_max_age_hours,
    )


def _confirm_payload(token: str) -> dict:
    hours = current_app.config["ENGAGE"].confirm_max_age_hours
    payload = read_token("confirm", token, max_age=timedelta(hours=hours))
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("s"), int)
        and isinstance(payload.get("c"), int)
    ):
        raise TokenError("This link is not valid. It may have been copied incompletely.")
    return payload


def _invalid(message: str, status: int):
    return render_template("subscriptions/link_invalid.html", message=message), status


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@no_store
def confirm(token: str):
    try:
        payload = _confirm_payload(token)
    except TokenError as exc:
        if exc.expired:
            return render_template("subscriptions/link_expired.html"), 410
        return _invalid(str(exc), 400)
    # The link names a subscriber and carries its key: a purged or erased sign-up's link
    # never confirms whoever got the id next.
    subscriber = db.session.get(Subscriber, payload["s"]) if 0 < payload["s"] < 2**31 else None
    if not link_key_matches(subscriber, payload):
        return _invalid("This confirmation link is no longer valid.", 404)
    form = ConfirmActionForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("subscriptions/confirm.html", form=form, token=token), status
    try:
        subscriber, newly = service.confirm(db.session, payload["s"], payload["c"])
    except service.ConfirmError as exc:
        db.session.rollback()
        return _invalid(str(exc), 400)
    if newly:
        subscription_emails.queue_welcome(subscriber)
    db.session.commit()
    return render_template(
        "subscriptions/confirmed.html", newly=newly, preferences_url=preferences_url(subscriber)
    )


def preferences_url(subscriber: Subscriber) -> str:
    token = make_link_token("preferences", {"s": subscriber.id}, subscriber.link_key)
    return url_for("subscriptions.preferences", token=token)


def _is_one_click() -> bool:
    # RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click`, urlencoded or multipart.
    return request.form.get("List-Unsubscribe") == "One-Click"


@bp.route("/u/<unsubscribe_id>", methods=["GET", "POST"])
@no_store
@csrf.exempt
@limiter.exempt
def unsubscribe(unsubscribe_id: str):
    """GET shows one button; POST (ours, or a mail client's one-click) unsubscribes at once.

    No CSRF token, cookie or login: the unguessable id is the credential, and RFC 8058
    clients send none of those.
    """
    # `?list=digest` (the digest's own link) stops the digest only.
    digest_only = request.args.get("list") == "digest"
    subscriber = service.find_by_unsubscribe_id(db.session, unsubscribe_id)
    if subscriber is None:
        if request.method == "POST" and _is_one_click():
            return Response("This unsubscribe link is not valid.\n", 404, mimetype="text/plain")
        return _invalid("This unsubscribe link is not valid.", 404)
    if request.method == "GET":
        return render_template(
            "subscriptions/unsubscribe.html",
            subscriber=subscriber,
            preferences_url=preferences_url(subscriber),
            digest_only=digest_only,
        )
    if digest_only:
        service.stop_digest(db.session, subscriber)
        db.session.commit()
        if _is_one_click():
            return Response("The digest is stopped.\n", 200, mimetype="text/plain")
        return render_template(
            "subscriptions/unsubscribed.html",
            preferences_url=preferences_url(subscriber),
            digest_only=subscriber.status != "unsubscribed",
        )
    service.unsubscribe(db.session, subscriber)
    db.session.commit()
    if _is_one_click():
        return Response("You are unsubscribed.\n", 200, mimetype="text/plain")
    return render_template(
        "subscriptions/unsubscribed.html", preferences_url=preferences_url(subscriber)
    )


def _subscriber_from_preferences_token(token: str) -> Subscriber:
    try:
        payload = read_token("preferences", token)
    except TokenError as exc:
        abort(Response(*_invalid(str(exc), 400)))
    subscriber_id = payload.get("s") if isinstance(payload, dict) else None
    subscriber = (
        db.session.get(Subscriber, subscriber_id)
        if isinstance(subscriber_id, int) and 0 < subscriber_id < 2**31
        else None
    )
    if not link_key_matches(subscriber, payload):
        abort(Response(*_invalid("There is no subscription for this link any more.", 404)))
    return subscriber


# The preference form's fields by name, for the error summary's links.
PREFERENCE_FIELDS = ("topics", "digest", "purposes")


def _preferences_page(subscriber, token, state=None, saved=False, status=200):
    interests = subscriber.interests or {}
    state = state or {
        "topics": [t.slug for t in subscriber.topics],
        "digest": subscriber.digest,
        "interests": {
            "purposes": list(interests.get("purposes") or []),
            "regions": list(interests.get("regions") or []),
        },
        "errors": {},
    }
    from engage.community.digests import interest_choices

    return render_template(
        "subscriptions/preferences.html",
        interest_choices=interest_choices(db.session, state.get("interests")),
        subscriber=subscriber,
        token=token,
        state=state,
        saved=saved,
        subscribe_again=consent.SUBSCRIBE_AGAIN,
    ), status


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@no_store
def preferences(token: str):
    subscriber = _subscriber_from_preferences_token(token)
    if request.method == "GET":
        return _preferences_page(subscriber, token)
    form = PreferencesForm()
    state = {
        "topics": form.chosen_topics(),
        "digest": form.chosen_digest(),
        "interests": form.chosen_interests(),
        "errors": {},
    }
    # Every problem at once, in the form's order.
    form.validate_on_submit()
    errors = {}
    if "csrf_token" in form.errors:
        errors["form"] = "This form expired. Please press Save my choices again."
    checks = {
        "topics": lambda: service.resolve_topics(db.session, state["topics"] or None),
        "digest": lambda: service.check_digest(state["digest"]),
        "purposes": lambda: service.check_interests(
            (state["interests"] or {}).get("purposes"), (state["interests"] or {}).get("regions")
        ),
    }
    for check in checks.values():
        try:
            check()
        except service.InvalidChoice as exc:
            errors.setdefault(exc.field, str(exc))
    if errors:
        state["errors"] = {name: [message] for name, message in errors.items()}
        return _preferences_page(subscriber, token, state, status=400)
    service.update_preferences(
        db.session, subscriber, state["topics"], state["digest"], state["interests"]
    )
    db.session.commit()
    return _preferences_page(subscriber, token, saved=True)


def _require_button() -> None:
    if not ConfirmActionForm().validate_on_submit():
        abort(400)


@bp.route("/preferences/<token>/unsubscribe", methods=["GET", "POST"])
@no_store
def unsubscribe_all(token: str):
    """GET asks on a page of its own; its button POSTs and unsubscribes from everything."""
    subscriber = _subscriber_from_preferences_token(token)
    form = ConfirmActionForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template(
            "subscriptions/confirm_unsubscribe.html", subscriber=subscriber, token=token
        ), (400 if request.method == "POST" else 200)
    service.unsubscribe(db.session, subscriber)
    db.session.commit()
    return redirect(url_for(".preferences", token=token), code=303)


@bp.post("/preferences/<token>/subscribe-again")
@no_store
@limiter.limit(_signup_limit)
def subscribe_again(token: str):
    """An unsubscribed reader's way back: a confirmation email first (double opt-in)."""
    subscriber = _subscriber_from_preferences_token(token)
    _require_button()
    if subscriber.status != "unsubscribed":
        return redirect(url_for(".preferences", token=token), code=303)
    outcome = service.subscribe_again(db.session, subscriber, source="form:/preferences")
    queue_signup_email(outcome)
    db.session.commit()
    return redirect(url_for("subscriptions.check_email"), code=303)


@bp.post("/preferences/<token>/export")
@no_store
def export(token: str):
    subscriber = _subscriber_from_preferences_token(token)
    _require_button()
    data = service.export(db.session, subscriber)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-subscription-data.json"'},
    )


@bp.route("/preferences/<token>/erase", methods=["GET", "POST"])
@no_store
def erase(token: str):
    """GET asks on a page of its own (with a box to tick); its button POSTs and erases."""
    subscriber = _subscriber_from_preferences_token(token)
    form = EraseForm()
    if request.method == "GET":
        return render_template("subscriptions/confirm_erase.html", form=form, token=token)
    if not form.validate_on_submit() or not form.sure.data:
        form.sure.errors = ["Please tick the box to confirm that you want your data erased."]
        return render_template("subscriptions/confirm_erase.html", form=form, token=token), 400
    service.erase(db.session, subscriber)
    db.session.commit()
    return render_template("subscriptions/erased.html")
