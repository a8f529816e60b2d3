"""The editor's newsletter screens: compose, preview, schedule, watch the sending, read results.

Every page needs a signed-in editor (403 otherwise); every form carries a CSRF token. The rules
live in engage.newsletters.service: these views parse, call it, commit and render. A transition
the service refuses (NewsletterError) becomes a flash message, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from engage.accounts.access import require_role
from engage.extensions import db
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL, Rendered, personalise
from engage.newsletters import blocks, service
from engage.newsletters.forms import (
    ActionForm,
    ComposeForm,
    ScheduleForm,
    canonical_timezones,
    choices,
)
from engage.newsletters.models import Newsletter
from engage.newsletters.render import NewsletterRenderError, render_newsletter
from engage.newsletters.service import NewsletterError
from engage.newsletters.validate import Issue, check_body, source_line
from engage.sending import bounces
from engage.sending.models import Delivery
from engage.subscriptions.models import Topic
from engage.types import utcnow

bp = Blueprint("newsletters_admin", __name__, url_prefix="/admin/newsletters")

EDITABLE = ("draft", "scheduled", "missed")
# The editor's last time zone for scheduling, kept in their session.
ZONE_KEY = "schedule_timezone"
SCHEDULABLE = ("draft", "scheduled", "missed")
UNDER_WAY = ("sending", "paused")
STATUS_LABELS = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "sending": "Sending",
    "paused": "Paused",
    "sent": "Sent",
    "cancelled": "Cancelled",
    "missed": "Missed",
}
# The rendered email is shown in a sandboxed iframe: nothing in it may run, load from
# elsewhere, submit or navigate us; its inline styles are the email's own.
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox"
)
PREVIEW_LINKS = {UNSUBSCRIBE_URL: "#unsubscribe-link", PREFERENCES_URL: "#preferences-link"}


@bp.before_request
def _editors_only():
    return require_role("editor")


@bp.app_template_filter("nl_datetime")
def _format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%-d %B %Y, %H:%M UTC")


@bp.app_template_filter("nl_duration")
def _format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    return f"about {round(minutes / 60, 1):g} hours"


def _newsletter(newsletter_id: int) -> Newsletter:
    newsletter = db.session.get(Newsletter, newsletter_id)
    if newsletter is None:
        abort(404)
    return newsletter


def _topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.is_default.desc(), Topic.name)))


def _topic_counts(topics: list[Topic]) -> dict[str, int]:
    return {topic.slug: service.audience_count(db.session, [topic.slug]) for topic in topics}


def _format_of(newsletter: Newsletter) -> str:
    return "mjml" if (newsletter.body_mjml or "").strip() else "markdown"


# --- list and compose --------------------------------------------------------------------


@bp.get("")
def index():
    newsletters = db.session.scalars(
        select(Newsletter).order_by(Newsletter.created_at.desc(), Newsletter.id.desc())
    ).all()
    return render_template(
        "newsletters/admin/index.html", newsletters=newsletters, labels=STATUS_LABELS
    )


def _compose_page(form, newsletter=None, issues=(), notice="", status=200):
    topics = _topics()
    form.topics.choices = choices((topic.slug, topic.name) for topic in topics)
    chosen = form.chosen_topics()
    body = form.body.data or ""
    return render_template(
        "newsletters/admin/compose.html",
        form=form,
        newsletter=newsletter,
        topics=topics,
        topic_counts=_topic_counts(topics),
        chosen=chosen,
        audience=service.audience_count(db.session, chosen) if chosen else 0,
        issues=[(issue, source_line(body, issue.line)) for issue in issues],
        has_errors=any(issue.is_error for issue in issues),
        notice=notice,
    ), status


def _save(form: ComposeForm, newsletter: Newsletter | None):
    """Create or update from a submitted form; a response either way."""
    body = form.body.data or ""
    body_format = form.body_format.data if form.body_format.data == "mjml" else "markdown"
    issues = check_body(body, body_format)
    valid = form.validate()
    if not form.chosen_topics():
        form.topics.errors = ["Choose at least one topic: its confirmed subscribers get it."]
        valid = False
    if not valid or any(issue.is_error for issue in issues):
        return _compose_page(form, newsletter, issues, status=422)
    fields = {
        "subject": form.subject.data.strip(),
        "preheader": (form.preheader.data or "").strip(),
        "body_markdown": body if body_format == "markdown" else None,
        "body_mjml": body if body_format == "mjml" else None,
        "topic_slugs": form.chosen_topics(),
    }
    try:
        if newsletter is None:
            newsletter = service.create_newsletter(
                db.session, created_by_id=current_user.id, **fields
            )
        else:
            service.update_newsletter(db.session, newsletter, **fields)
    except NewsletterRenderError as exc:
        db.session.rollback()
        issues = [*issues, Issue(str(exc), exc.line)]
        return _compose_page(form, newsletter, issues, status=422)
    except NewsletterError as exc:
        db.session.rollback()
        target = {
            "subject": form.subject,
            "preheader": form.preheader,
            "topics": form.topics,
            "body_markdown": form.body,
            "body_mjml": form.body,
        }.get(getattr(exc, "field", None) or "")
        if target is not None:
            target.errors = [*target.errors, str(exc)]
        else:
            flash(str(exc), "error")
        return _compose_page(form, newsletter, issues, status=422)
    db.session.commit()
    flash("The newsletter is saved.", "info")
    for issue in issues:
        flash(f"Line {issue.line}: {issue.message}" if issue.line else issue.message, "info")
    return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)


def _insert_block(form: ComposeForm, newsletter: Newsletter | None):
    """Append the chosen block to the body and show the form again: works without JS."""
    body_format = form.body_format.data if form.body_format.data == "mjml" else "markdown"
    try:
        addition = blocks.snippet(db.session, form.block.data or "", body_format)
    except KeyError:
        return _compose_page(form, newsletter, notice="Choose a block to insert.", status=400)
    except blocks.EmptyBlock as exc:
        return _compose_page(form, newsletter, notice=str(exc))
    form.body.data = blocks.append(form.body.data or "", addition)
    label = blocks.BLOCKS[form.block.data].label
    return _compose_page(form, newsletter, notice=f"“{label}” was added at the end of the body.")


def _compose(newsletter: Newsletter | None):
    form = ComposeForm()
    if request.method == "GET":
        if newsletter is None:
            form.topics.data = [t.slug for t in _topics() if t.is_default]
        else:
            form.subject.data = newsletter.subject
            form.preheader.data = newsletter.preheader
            form.body_format.data = _format_of(newsletter)
            form.body.data = newsletter.body_mjml or newsletter.body_markdown or ""
            form.topics.data = [topic.slug for topic in newsletter.topics]
        return _compose_page(form, newsletter)
    action = request.form.get("action", "save")
    if action == "insert":
        return _insert_block(form, newsletter)
    if action == "check":
        body_format = form.body_format.data if form.body_format.data == "mjml" else "markdown"
        issues = check_body(form.body.data or "", body_format)
        notice = "" if issues else "No problems found in the body."
        return _compose_page(form, newsletter, issues, notice=notice)
    return _save(form, newsletter)


@bp.route("/new", methods=["GET", "POST"])
def new():
    return _compose(None)


@bp.route("/<int:newsletter_id>/edit", methods=["GET", "POST"])
def edit(newsletter_id: int):
    newsletter = _newsletter(newsletter_id)
    if newsletter.status not in EDITABLE:
        flash(
            f"This newsletter is {STATUS_LABELS[newsletter.status].lower()}: it can no longer "
            "be edited.",
            "error",
        )
        return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)
    return _compose(newsletter)


@bp.get("/blocks/<key>.json")
def block(key: str):
    """A block as text, for the editor's script to insert at the cursor."""
    if key not in blocks.BLOCKS:
        abort(404)
    body_format = "mjml" if request.args.get("format") == "mjml" else "markdown"
    try:
        return jsonify(snippet=blocks.snippet(db.session, key, body_format))
    except blocks.EmptyBlock as exc:
        return jsonify(error=str(exc)), 404


@bp.get("/audience.json")
def audience():
    slugs = [slug[:64] for slug in request.args.getlist("topics")][:50]
    return jsonify(count=service.audience_count(db.session, slugs) if slugs else 0)


# --- the newsletter's page: schedule, progress, results ----------------------------------


def _progress(newsletter: Newsletter) -> dict:
    figures = dict(service.progress(db.session, newsletter))
    total = figures.get("total") or 0
    done = sum(figures.get(key) or 0 for key in ("sent", "failed", "skipped"))
    figures["done"] = done
    figures["percent"] = round(100 * done / total, 1) if total else 0.0
    figures.setdefault("status", newsletter.status)
    figures.setdefault("paused_reason", newsletter.paused_reason or "")
    return figures


@bp.get("/<int:newsletter_id>")
def show(newsletter_id: int):
    newsletter = _newsletter(newsletter_id)
    slugs = [topic.slug for topic in newsletter.topics]
    schedule_form = ScheduleForm(formdata=None)
    # The zone the editor last scheduled in stays chosen, and the time shows in it.
    zone_name = session.get(ZONE_KEY)
    zone_name = zone_name if zone_name in canonical_timezones() else "UTC"
    schedule_form.timezone.data = zone_name
    if newsletter.scheduled_at and newsletter.status in SCHEDULABLE:
        when = newsletter.scheduled_at.astimezone(ZoneInfo(zone_name))
        schedule_form.date.data, schedule_form.time.data = when.date(), when.time()
    return _show_page(newsletter, slugs, schedule_form)


def _show_page(newsletter, slugs, schedule_form, status=200):
    # "Send now" schedules for now: until a worker picks it up, the page waits with a bar.
    starting = (
        newsletter.status == "scheduled"
        and newsletter.scheduled_at is not None
        and newsletter.scheduled_at <= utcnow()
    )
    started = newsletter.status not in ("draft", "scheduled", "missed") or starting
    return render_template(
        "newsletters/admin/show.html",
        newsletter=newsletter,
        labels=STATUS_LABELS,
        audience=service.audience_count(db.session, slugs) if slugs else 0,
        schedule_form=schedule_form,
        action_form=ActionForm(),
        progress=_progress(newsletter) if started else None,
        failures=service.failures(db.session, newsletter.id) if started else [],
        # Reports that came back after sending too (engage/sending/bounces.py).
        bounce_counts=bounces.counts_for(db.session, Delivery.newsletter_id == newsletter.id)
        if started
        else None,
        editable=newsletter.status in EDITABLE,
        schedulable=newsletter.status in SCHEDULABLE and not starting,
        under_way=newsletter.status in UNDER_WAY,
        starting=starting,
    ), status


@bp.get("/<int:newsletter_id>/progress.json")
def progress(newsletter_id: int):
    newsletter = _newsletter(newsletter_id)
    return jsonify(_progress(newsletter))


def local_to_utc(day, time, zone_name: str) -> datetime:
    """A wall-clock date and time in `zone_name` as an aware UTC datetime.

    Raises ValueError for an unknown zone or a time the clocks skip (a DST gap).
    """
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"“{zone_name}” is not a time zone we know.") from None
    local = datetime.combine(day, time.replace(second=0, microsecond=0), tzinfo=zone)
    in_utc = local.astimezone(UTC)
    if in_utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError(
            f"{time:%H:%M} does not exist on {day:%-d %B %Y} in {zone_name}: the clocks "
            "change then. Choose another time."
        )
    return in_utc


def _transition(newsletter: Newsletter, call, done: str):
    try:
        call()
    except NewsletterError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(done, "info")
    return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)


@bp.post("/<int:newsletter_id>/schedule")
def schedule(newsletter_id: int):
    newsletter = _newsletter(newsletter_id)
    form = ScheduleForm()
    slugs = [topic.slug for topic in newsletter.topics]
    if not form.validate():
        return _show_page(newsletter, slugs, form, 422)
    zone_name = form.timezone.data or "UTC"
    if zone_name in canonical_timezones():
        session[ZONE_KEY] = zone_name
    try:
        send_at = local_to_utc(form.date.data, form.time.data, zone_name)
    except ValueError as exc:
        form.time.errors = [str(exc)]
        return _show_page(newsletter, slugs, form, 422)
    if send_at <= utcnow():
        form.time.errors = ["That time has passed. Choose a time in the future, or send now."]
        return _show_page(newsletter, slugs, form, 422)
    try:
        service.schedule(db.session, newsletter, send_at)
    except NewsletterError as exc:
        db.session.rollback()
        if getattr(exc, "field", None) == "send_at":
            form.time.errors = [str(exc)]
            return _show_page(newsletter, slugs, form, 422)
        flash(str(exc), "error")
    else:
        # No flash: the page's own "Scheduled for …" line says it, once.
        db.session.commit()
    return redirect(url_for(".show", newsletter_id=newsletter.id), code=303)


def _action(name: str, call, done: str):
    def view(newsletter_id: int):
        newsletter = _newsletter(newsletter_id)
        return _transition(newsletter, lambda: call(db.session, newsletter), done)

    view.__name__ = name
    bp.add_url_rule(f"/<int:newsletter_id>/{name.replace('_', '-')}", name, view, methods=["POST"])


_action("send_now", lambda s, n: service.send_now(s, n), "Sending starts in a moment.")
_action("unschedule", lambda s, n: service.unschedule(s, n), "Unscheduled: it is a draft again.")
_action(
    "pause",
    # By name: the reason is stored with every address in it masked (it often quotes a server).
    lambda s, n: service.pause(
        s, n, reason=f"paused by {current_user.display_name or current_user.email}"
    ),
    "Paused after the messages in flight.",
)
_action("resume", lambda s, n: service.resume(s, n), "Sending resumed.")
_action("cancel", lambda s, n: service.cancel(s, n), "Cancelled: nothing more will be sent.")


# --- preview and test sends --------------------------------------------------------------


def _rendered(newsletter: Newsletter) -> Rendered | None:
    try:
        rendered = render_newsletter(
            newsletter.subject,
            newsletter.preheader,
            body_markdown=newsletter.body_markdown,
            body_mjml=newsletter.body_mjml,
            personal_links=True,
        )
    except NewsletterRenderError:
        return None
    # The footer links go nowhere in a preview; each recipient gets their own.
    return personalise(rendered, PREVIEW_LINKS, strict=False)


@bp.get("/<int:newsletter_id>/preview")
def preview(newsletter_id: int):
    newsletter = _newsletter(newsletter_id)
    return render_template(
        "newsletters/admin/preview.html",
        newsletter=newsletter,
        rendered=_rendered(newsletter),
        action_form=ActionForm(),
    )


@bp.get("/<int:newsletter_id>/preview.html")
def preview_html(newsletter_id: int):
    rendered = _rendered(_newsletter(newsletter_id))
    if rendered is None:
        abort(422)
    response = Response(rendered.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:newsletter_id>/preview.txt")
def preview_text(newsletter_id: int):
    rendered = _rendered(_newsletter(newsletter_id))
    if rendered is None:
        abort(422)
    response = Response(rendered.text, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:newsletter_id>/test")
def send_test(newsletter_id: int):
    newsletter = _newsletter(newsletter_id)
    address = current_user.email
    try:
        service.send_test(newsletter, address)
    except (NewsletterError, NewsletterRenderError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"A test is on its way to {address}.", "info")
    return redirect(url_for(".preview", newsletter_id=newsletter.id), code=303)
