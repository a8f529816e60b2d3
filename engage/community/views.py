"""The public directory and the organiser's pages: browse groups and events, submit, confirm
the address, update a listing; plus the .ics files and the Atom feed.

Links in emails open a page whose button POSTs, so a link scanner's GET changes nothing. Only
approved listings are public: anything else answers 404, as if it did not exist.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from engage.community import digests, emails, ics, joining, service
from engage.community.forms import (
    BAD_DATE,
    COMMON_TIMEZONES,
    ButtonForm,
    EventForm,
    EventSubmitForm,
    GroupForm,
    GroupSubmitForm,
    JoiningRequestForm,
    local,
)
from engage.community.models import Event, SupportGroup
from engage.community.purposes import PURPOSES, label
from engage.core.security import no_store
from engage.extensions import csrf, db, limiter
from engage.subscriptions.service import InvalidAddress, normalise_email
from engage.tokens import TokenError
from engage.types import utcnow
from engage.urls import external_url

bp = Blueprint("community", __name__)

# Listings recorded per address and hour; forms sent back with mistakes count only against the
# looser limit, so someone fixing a typo is not locked out.
SUBMIT_LIMIT = "10 per hour;30 per day"
ATTEMPT_LIMIT = "60 per hour"
# Requests for joining details from one client (the address has its own limit, which is
# silent: see engage.community.joining).
ASK_LIMIT = "20 per hour"
FEED_SIZE = 30
# Form field names where the service's names differ.
FORM_NAMES = {
    "next_meeting_at": "next_meeting",
    "starts_at": "starts",
    "ends_at": "ends",
    "group_id": "group",
}
DATE_FIELDS = ("next_meeting", "starts", "ends")


@bp.app_template_filter("purpose_label")
def _purpose_label(slug: str) -> str:
    return label(slug)


@bp.app_template_filter("in_zone")
def _in_zone(value, zone_name: str, with_zone: bool = True) -> str:
    """A UTC time as a reader-friendly wall-clock time in `zone_name`."""
    if value is None:
        return ""
    zone = ZoneInfo(zone_name if service.valid_timezone(zone_name) else "UTC")
    local_time = value.astimezone(zone)
    text = local_time.strftime("%A %-d %B %Y, %H:%M")
    return f"{text} ({local_time.tzname()})" if with_zone else text


@bp.app_template_filter("public_value")
def _public_value(listing, field: str) -> str:
    """A joining field as public pages show it: empty when the organiser keeps it private."""
    return joining.public_value(listing, field)


@bp.app_template_filter("contact_href")
def _contact_href(contact: str) -> str | None:
    """A safe link for a public contact: mailto: for an address, http(s) for a web address."""
    contact = (contact or "").strip()
    if service.web_url(contact):
        return contact
    if "@" in contact and " " not in contact and ":" not in contact:
        return f"mailto:{contact}"
    return None


def _page_context(filters: service.Filters) -> dict:
    return {
        "filters": filters,
        "purposes": PURPOSES,
        "formats": service.FORMAT_LABELS,
        "run_by_labels": service.RUN_BY_LABELS,
        "choices": service.filter_choices(db.session),
    }


# --- the directory --------------------------------------------------------------------------


@bp.get("/groups")
def groups():
    filters = service.Filters.from_args(request.args)
    found = service.public_groups(db.session, filters)
    return render_template("community/groups.html", groups=found, **_page_context(filters))


def _public_group(slug: str) -> SupportGroup:
    group = db.session.scalar(select(SupportGroup).where(SupportGroup.slug == slug[:160]))
    if group is None or group.status != "approved":
        abort(404)
    return group


def _public_event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug[:160]))
    if event is None or event.status != "approved":
        abort(404)
    return event


def _joining_context(listing, form=None, errors=None) -> dict:
    """What the page needs for the private details: which fields are private, the form."""
    return {
        "private": {
            name
            for name, _flag, _label in joining.FIELDS[type(listing)]
            if joining.is_private(listing, name)
        },
        "request_form": form or JoiningRequestForm(formdata=None),
        "request_errors": errors or {},
        "asked": request.args.get("asked") == "1",
    }


def _group_page(found: SupportGroup, status: int = 200, **joining_extra):
    now = utcnow()
    return render_template(
        "community/group.html",
        group=found,
        events=service.group_events(db.session, found, now),
        next_meeting=service.next_meeting(db.session, found, now),
        formats=service.FORMAT_LABELS,
        run_by_labels=service.RUN_BY_LABELS,
        **_joining_context(found, **joining_extra),
    ), status


@bp.get("/groups/<slug>")
def group(slug: str):
    return _group_page(_public_group(slug))


@bp.get("/events")
def events():
    filters = service.Filters.from_args(request.args)
    found = service.upcoming_events(db.session, filters)
    return render_template("community/events.html", events=found, **_page_context(filters))


def _event_page(found: Event, status: int = 200, **joining_extra):
    group = found.group if found.group is not None and found.group.status == "approved" else None
    return render_template(
        "community/event.html",
        event=found,
        group=group,
        ended=found.ends_at <= utcnow(),
        **_joining_context(found, **joining_extra),
    ), status


@bp.get("/events/<slug>")
def event(slug: str):
    return _event_page(_public_event(slug))


# --- asking for private joining details ------------------------------------------------------


def _ask(listing, page, endpoint: str):
    """Email the listing's private details to the address given; the answer is the same
    whatever the address (sent, over its limit, suppressed), so it tells nobody anything."""
    form = JoiningRequestForm()
    if not form.validate_on_submit():
        message = (
            "This form expired. Please send it again."
            if "csrf_token" in form.errors
            else "Please give your email address."
        )
        return page(listing, 400, form=form, errors={"email": message})
    try:
        address = normalise_email((form.email.data or "").strip()[:320])
    except InvalidAddress as exc:
        return page(listing, 400, form=form, errors={"email": str(exc)})
    if not form.website.data and joining.private_details(listing):
        if joining.may_send_details(db.session, address):
            emails.queue_joining_details(listing, address)
            if joining.may_notify_organiser(listing):
                emails.queue_joining_asked(listing)
        db.session.commit()
    target = url_for(endpoint, slug=listing.slug, asked=1, _anchor="joining")
    return redirect(target, code=303)


@bp.post("/groups/<slug>/joining-details")
@csrf.exempt  # the form checks its own token and shows the page again with a message
@limiter.limit(ASK_LIMIT)
def ask_group(slug: str):
    return _ask(_public_group(slug), _group_page, "community.group")


@bp.post("/events/<slug>/joining-details")
@csrf.exempt  # as above
@limiter.limit(ASK_LIMIT)
def ask_event(slug: str):
    found = _public_event(slug)
    if found.ends_at <= utcnow():
        abort(404)
    return _ask(found, _event_page, "community.event")


def _calendar_response(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.get("/events/<slug>.ics")
def event_ics(slug: str):
    found = _public_event(slug)
    body = ics.calendar([found], found.title)
    return _calendar_response(body, f"{found.slug}.ics")


@bp.get("/events.ics")
def events_ics():
    from flask import current_app

    found = service.upcoming_events(db.session, service.Filters())
    name = f"{current_app.config['ENGAGE'].site_name}: support group events"
    return _calendar_response(ics.calendar(found, name), "events.ics")


@bp.get("/community/feed.atom")
def feed():
    entries = []
    for listing in service.newly_listed(db.session, FEED_SIZE):
        is_group = isinstance(listing, SupportGroup)
        entries.append(
            {
                "id": external_url(
                    "community.group" if is_group else "community.event", slug=listing.slug
                ),
                "title": listing.name if is_group else listing.title,
                "kind": "Support group" if is_group else "Event",
                "published": listing.approved_at,
                "updated": max(listing.approved_at, listing.updated_at or listing.approved_at),
                "summary": listing.description,
                "listing": listing,
            }
        )
    updated = max((entry["updated"] for entry in entries), default=None) or utcnow()
    body = render_template(
        "community/feed.atom",
        entries=entries,
        updated=updated,
        feed_url=external_url("community.feed"),
        groups_url=external_url("community.groups"),
    )
    return Response(body, mimetype="application/atom+xml")


# --- submitting -----------------------------------------------------------------------------


def _recorded(response: Response) -> bool:
    return response.status_code == 303


def _group_choices() -> list[tuple[str, str]]:
    approved = db.session.scalars(
        select(SupportGroup)
        .where(SupportGroup.status == "approved")
        .order_by(SupportGroup.name, SupportGroup.id)
    )
    return [("", "No group")] + [(str(g.id), g.name) for g in approved]


def _form_errors(form, check) -> dict[str, str]:
    """Every message for the form: expired CSRF, unreadable dates, then the service's rules."""
    form.validate()
    errors: dict[str, str] = {}
    if "csrf_token" in form.errors:
        errors["form"] = "This form expired. Please send it again; nothing was saved."
    for name in DATE_FIELDS:
        if name in form.errors:
            errors[name] = BAD_DATE
    try:
        check(form.values())
    except service.ListingInvalid as exc:
        for name, message in exc.errors.items():
            errors.setdefault(FORM_NAMES.get(name, name), message)
    if hasattr(form, "organiser_email"):
        try:
            service.clean_organiser_email(form.organiser_email.data or "")
        except service.ListingInvalid as exc:
            errors["organiser_email"] = exc.errors["organiser_email"]
    return errors


def _form_page(template: str, form, errors=None, status=200, **extra):
    return render_template(
        template,
        form=form,
        errors=errors or {},
        timezones=COMMON_TIMEZONES,
        purposes=PURPOSES,
        format_choices=list(service.FORMAT_LABELS.items()),
        run_by_choices=list(service.RUN_BY_LABELS.items()),
        group_choices=_group_choices() if "event" in template else [],
        **extra,
    ), status


@bp.route("/groups/submit", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so a stale one keeps what was typed
@limiter.limit(ATTEMPT_LIMIT, methods=["POST"])
@limiter.limit(SUBMIT_LIMIT, methods=["POST"], deduct_when=_recorded)
def submit_group():
    form = GroupSubmitForm()
    if request.method == "GET":
        return _form_page("community/submit_group.html", form)
    errors = _form_errors(form, service.clean_group)
    if errors:
        return _form_page("community/submit_group.html", form, errors, 400)
    if form.website.data:
        # A bot filled the honeypot: answer exactly as for a person, record nothing.
        return redirect(url_for("community.submitted"), code=303)
    listing = service.create_group(
        db.session, form.values(), organiser_email=form.organiser_email.data
    )
    emails.queue_confirmation(listing)
    db.session.commit()
    return redirect(url_for("community.submitted"), code=303)


@bp.route("/events/submit", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so a stale one keeps what was typed
@limiter.limit(ATTEMPT_LIMIT, methods=["POST"])
@limiter.limit(SUBMIT_LIMIT, methods=["POST"], deduct_when=_recorded)
def submit_event():
    form = EventSubmitForm()
    if request.method == "GET":
        chosen = request.args.get("group", "")
        if chosen in {value for value, _label in _group_choices()}:
            form.group.data = chosen
        return _form_page("community/submit_event.html", form)

    def check(values):
        return service.clean_event(db.session, values, public=True)

    errors = _form_errors(form, check)
    if errors:
        return _form_page("community/submit_event.html", form, errors, 400)
    if form.website.data:
        return redirect(url_for("community.submitted"), code=303)
    listing = service.create_event(
        db.session, form.values(), organiser_email=form.organiser_email.data, public=True
    )
    emails.queue_confirmation(listing)
    db.session.commit()
    return redirect(url_for("community.submitted"), code=303)


@bp.get("/community/check-your-email")
def submitted():
    return render_template("community/submitted.html")


def _link_problem(exc: TokenError):
    return render_template("community/link_invalid.html", message=str(exc)), (
        410 if exc.expired else 400
    )


@bp.route("/community/confirm/<token>", methods=["GET", "POST"])
@no_store
def confirm(token: str):
    try:
        listing = service.listing_from_token(db.session, "organiser-verify", token[:1000])
    except TokenError as exc:
        return _link_problem(exc)
    form = ButtonForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "community/confirm.html",
            form=form,
            token=token,
            listing=listing,
            kind=service.kind_of(listing),
            already=listing.organiser_confirmed_at is not None,
        ), status
    service.confirm_organiser(db.session, listing)
    db.session.commit()
    return render_template(
        "community/confirmed.html", listing=listing, kind=service.kind_of(listing)
    )


@bp.route("/community/edit/<token>", methods=["GET", "POST"])
@no_store
@csrf.exempt  # as above: the form checks its token and keeps what was typed
def edit(token: str):
    """The organiser's own link (emailed on approval or rejection): change the listing."""
    try:
        listing = service.listing_from_token(db.session, "organiser-edit", token[:1000])
    except TokenError as exc:
        return _link_problem(exc)
    is_group = isinstance(listing, SupportGroup)
    template = "community/edit_group.html" if is_group else "community/edit_event.html"
    form = GroupForm() if is_group else EventForm()
    extra = {"listing": listing, "token": token, "saved": False}
    if request.method == "GET":
        _fill(form, listing)
        return _form_page(template, form, **extra)

    def check(values):
        if is_group:
            return service.clean_group(values)
        return service.clean_event(db.session, values, public=True)

    errors = _form_errors(form, check)
    if errors:
        return _form_page(template, form, errors, 400, **extra)
    changed = service.update_listing(db.session, listing, form.values(), by_organiser=True)
    db.session.commit()
    extra.update(saved=True, changed=changed)
    return _form_page(template, form, **extra)


def _fill(form, listing) -> None:
    """Put a listing's stored values into the form, times in the listing's own zone."""
    if isinstance(listing, SupportGroup):
        for name in service.GROUP_FIELDS:
            if name in form:
                form[name].data = getattr(listing, name)
        form.next_meeting.data = local(listing.next_meeting_at, listing.timezone)
    else:
        for name in (
            "title", "description", "timezone", "location", "online_url",
            "location_private", "online_url_private", "notify_requests",
        ):  # fmt: skip
            form[name].data = getattr(listing, name)
        form.starts.data = local(listing.starts_at, listing.timezone)
        form.ends.data = local(listing.ends_at, listing.timezone)
        form.group.data = str(listing.group_id) if listing.group_id else ""


# The web copy of a digest is the email's own HTML: its inline styles are allowed, nothing
# else; `sandbox` runs no script and gives the page an origin of its own.
WEB_COPY_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)


@bp.get("/digests/view/<token>")
def digest_web_copy(token: str):
    """A digest's "View in browser" page: 404 for a link that names nothing."""
    render = digests.find_render(db.session, token)
    if render is None:
        abort(404)
    response = Response(digests.web_copy_html(render), mimetype="text/html")
    response.headers["Content-Security-Policy"] = WEB_COPY_CSP
    return response
