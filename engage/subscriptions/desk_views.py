"""Staff pages: the subscriber list (search, filters, CSV), one reader's record and its
actions, and the suppression list. Editors; lifting a suppression is for admins.

An address typed into a search travels in a POST body, never in a URL: URLs end up in access
logs, proxies' logs and browser history, and these pages must not leave addresses there. Filters
without an address are plain GET links (bookmarkable); a search's next page and its CSV are
small POST forms carrying the same fields.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from engage.accounts.access import role_required
from engage.accounts.forms import ButtonForm
from engage.extensions import db
from engage.queue import enqueue
from engage.subscriptions import desk, desk_import, importing, service
from engage.subscriptions.emails import queue_confirmation
from engage.subscriptions.models import (
    DIGEST_FREQUENCIES,
    SUBSCRIBER_STATUSES,
    Subscriber,
    Suppression,
    Topic,
)
from engage.types import utcnow

bp = Blueprint("desk", __name__)

MAX_ID = 2**31 - 1


def _no_store(response):
    # Pages full of addresses: no cache, shared or private, keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def _private(response):
    return _no_store(response)


def _id_arg(name: str) -> int | None:
    raw = (request.values.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > MAX_ID:
        abort(400)
    return int(raw)


def _per_page() -> int:
    raw = (request.values.get("per_page") or "").strip()
    if raw.isdigit() and 0 < int(raw) <= desk.MAX_PER_PAGE:
        return int(raw)
    return desk.PER_PAGE


def _topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.is_default.desc(), Topic.name)))


def _filter_from_request():
    topics = _topics()
    flt, errors = desk.parse_filter(request.values, [t.slug for t in topics])
    if request.method == "GET" and request.args.get("q"):
        # An address in a URL is logged by every proxy on the way: searches come by POST.
        flt = desk.SubscriberFilter(**{**flt.__dict__, "q": ""})
        errors["q"] = "Search with the form: addresses are not taken from links."
    return flt, errors, topics


@bp.route("/admin/subscribers", methods=["GET", "POST"])
@role_required("editor")
def subscribers():
    flt, errors, topics = _filter_from_request()
    paging = request.form.get("after") or request.form.get("before")
    if request.method == "POST" and not flt.q and not errors and not paging:
        # No address: the filters go into a link the editor can keep.
        return redirect(url_for("desk.subscribers", **flt.as_params()), code=303)
    page = desk.subscriber_page(
        db.session, flt, after=_id_arg("after"), before=_id_arg("before"), per_page=_per_page()
    )
    return render_template(
        "subscriptions/desk/list.html",
        page=page,
        flt=flt,
        errors=errors,
        topics=topics,
        statuses=SUBSCRIBER_STATUSES,
        digests=DIGEST_FREQUENCIES,
        sources=desk.SOURCES,
        per_page=_per_page(),
    ), (400 if errors else 200)


@bp.route("/admin/subscribers.csv", methods=["GET", "POST"])
@role_required("editor")
def subscribers_csv():
    flt, errors, _ = _filter_from_request()
    if errors:
        flash("The export was not made: " + " ".join(sorted(set(errors.values()))), "error")
        return redirect(url_for("desk.subscribers"), code=303)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(desk.csv_lines(db.session, flt)),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="subscribers-{stamp}.csv"',
        },
    )


def _subscriber_or_404(subscriber_id: int) -> Subscriber:
    subscriber = db.session.get(Subscriber, subscriber_id) if subscriber_id <= MAX_ID else None
    if subscriber is None:
        abort(404)
    return subscriber


@bp.get("/admin/subscribers/<int:subscriber_id>")
@role_required("editor")
def subscriber(subscriber_id: int):
    record = _subscriber_or_404(subscriber_id)
    return render_template(
        "subscriptions/desk/show.html",
        subscriber=record,
        deliveries=desk.deliveries(db.session, record.id),
        bounces=desk.bounce_events(db.session, record),
        suppression=desk.suppression_of(db.session, record),
        form=ButtonForm(),
        reasons=desk.SUPPRESSION_REASONS,
    )


def _require_button() -> None:
    if not ButtonForm().validate_on_submit():
        abort(400)


@bp.post("/admin/subscribers/<int:subscriber_id>/resend-confirmation")
@role_required("editor")
def resend_confirmation(subscriber_id: int):
    record = _subscriber_or_404(subscriber_id)
    _require_button()
    try:
        consent = desk.resend_confirmation(db.session, record)
    except desk.DeskError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        queue_confirmation(record, consent)  # an outbox row, sent once this commits
        db.session.commit()
        flash("The confirmation email is on its way again.", "info")
    return redirect(url_for("desk.subscriber", subscriber_id=subscriber_id), code=303)


@bp.post("/admin/subscribers/<int:subscriber_id>/unsubscribe")
@role_required("editor")
def unsubscribe(subscriber_id: int):
    record = _subscriber_or_404(subscriber_id)
    _require_button()
    if service.unsubscribe(db.session, record):
        db.session.commit()
        flash("Unsubscribed from everything; their consent is marked withdrawn.", "info")
    else:
        flash("This subscriber was already unsubscribed.", "info")
    return redirect(url_for("desk.subscriber", subscriber_id=subscriber_id), code=303)


@bp.route("/admin/subscribers/<int:subscriber_id>/erase", methods=["GET", "POST"])
@role_required("editor")
def erase(subscriber_id: int):
    record = _subscriber_or_404(subscriber_id)
    form = ButtonForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "subscriptions/desk/erase.html", subscriber=record, form=form
        ), status
    service.erase(db.session, record)
    db.session.commit()
    flash(
        f"Subscriber {subscriber_id} is erased. Only a keyed hash of the address stays, on the "
        "suppression list, so nothing is sent to it without new consent.",
        "info",
    )
    return redirect(url_for("desk.subscribers"), code=303)


# --- suppressions ------------------------------------------------------------------------------


@bp.route("/admin/suppressions", methods=["GET", "POST"])
@role_required("editor")
def suppressions():
    errors: dict[str, str] = {}
    reason = (request.values.get("reason") or "").strip()
    if reason and reason not in desk.SUPPRESSION_REASONS:
        errors["reason"] = "Choose a reason from the list."
        reason = ""
    address = (request.form.get("q") or "").strip() if request.method == "POST" else ""
    email_hash = None
    if address:
        try:
            email_hash = desk.suppression_hash_for(address)
        except desk.DeskError as exc:
            errors["q"] = str(exc)
    elif request.method == "POST" and not (request.form.get("after") or request.form.get("before")):
        return redirect(url_for("desk.suppressions", reason=reason or None), code=303)
    page = desk.suppression_page(
        db.session,
        reason=reason,
        email_hash=email_hash if not errors.get("q") else None,
        after=_id_arg("after"),
        before=_id_arg("before"),
        per_page=_per_page(),
    )
    return render_template(
        "subscriptions/desk/suppressions.html",
        page=page,
        reason=reason,
        address=address,
        errors=errors,
        reasons=desk.SUPPRESSION_REASONS,
        counts=desk.suppression_counts(db.session),
        lifts=desk.recent_lifts(db.session),
        per_page=_per_page(),
    ), (400 if errors else 200)


@bp.route("/admin/suppressions/<int:suppression_id>/lift", methods=["GET", "POST"])
@role_required("admin")
def lift(suppression_id: int):
    suppression = db.session.get(Suppression, suppression_id) if suppression_id <= MAX_ID else None
    if suppression is None:
        flash("That suppression is no longer on the list.", "info")
        return redirect(url_for("desk.suppressions"), code=303)
    line = next(
        iter(desk.suppression_page(db.session, email_hash=suppression.email_hash).lines), None
    )
    form = ButtonForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            desk.lift_suppression(
                db.session, suppression, request.form.get("note"), user=current_user
            )
        except desk.DeskError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            flash(
                "The suppression is lifted. Nobody was re-subscribed: the address gets mail "
                "again only after a new, confirmed sign-up.",
                "info",
            )
            return redirect(url_for("desk.suppressions"), code=303)
    return render_template(
        "subscriptions/desk/lift.html",
        line=line,
        form=form,
        error=error,
        note=request.form.get("note", ""),
        reasons=desk.SUPPRESSION_REASONS,
    ), (400 if error else 200)


# --- CSV import: upload, map, preview, run as a job ---------------------------------------------

IMPORT_PAGE = "/admin/subscribers/import"


def _upload_page(error: str | None = None, status: int = 200):
    return render_template(
        "subscriptions/desk/import.html",
        # formdata=None: after a 413 the request's body must not be read again.
        form=ButtonForm(formdata=None),
        error=error,
        limit=current_app.config["MAX_CONTENT_LENGTH"],
        max_rows=importing.MAX_ROWS,
    ), status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    if request.path != IMPORT_PAGE:
        return _no_store(
            Response("What you sent is larger than we accept.", 413, mimetype="text/plain")
        )
    megabytes = current_app.config["MAX_CONTENT_LENGTH"] / 1024 / 1024
    page, _ = _upload_page(
        f"The file is larger than {megabytes:g} MB. Split it into smaller files and import "
        "them one after the other."
    )
    return _no_store(Response(page, 413))


@bp.route(IMPORT_PAGE, methods=["GET", "POST"])
@role_required("editor")
def import_csv():
    if request.method == "GET":
        return _upload_page()
    if not ButtonForm().validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_page("Choose a CSV file to import.", 400)
    data = upload.read()
    try:
        desk_import.read_csv(data)
    except desk_import.ImportFileError as exc:
        return _upload_page(str(exc), 400)
    token = desk_import.save_upload(current_app.instance_path, data)
    return redirect(url_for("desk.import_map", token=token), code=303)


def _upload_or_redirect(token: str):
    csv_file = desk_import.load_upload(current_app.instance_path, token)
    if csv_file is None:
        flash(
            "That upload is no longer here: it was imported, abandoned, or left for more than a "
            "day. Upload the file again.",
            "error",
        )
    return csv_file


def _map_page(token, csv_file, mapping, errors, status=200):
    return render_template(
        "subscriptions/desk/import_map.html",
        form=ButtonForm(),
        token=token,
        csv_file=csv_file,
        mapping=mapping,
        errors=errors,
        fields=desk_import.FIELDS,
        sample=csv_file.rows[:3],
    ), status


@bp.route(f"{IMPORT_PAGE}/<token>", methods=["GET", "POST"])
@role_required("editor")
def import_map(token: str):
    csv_file = _upload_or_redirect(token)
    if csv_file is None:
        return redirect(url_for("desk.import_csv"), code=303)
    if request.method == "GET":
        mapping = desk_import.ColumnMapping(desk_import.guess_columns(csv_file.header))
        return _map_page(token, csv_file, mapping, {}, 200)
    if not ButtonForm().validate_on_submit():
        abort(400)
    mapping, errors = desk_import.parse_mapping(request.form, csv_file.header)
    if errors:
        return _map_page(token, csv_file, mapping, errors, 400)
    lines = desk_import.preview(db.session, csv_file, mapping)
    db.session.rollback()
    return render_template(
        "subscriptions/desk/import_preview.html",
        form=ButtonForm(),
        token=token,
        csv_file=csv_file,
        mapping=mapping,
        hidden=desk_import.mapping_fields(mapping),
        lines=lines,
        fields=desk_import.FIELDS,
    )


@bp.post(f"{IMPORT_PAGE}/<token>/start")
@role_required("editor")
def import_start(token: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    csv_file = _upload_or_redirect(token)
    if csv_file is None:
        return redirect(url_for("desk.import_csv"), code=303)
    mapping, errors = desk_import.parse_mapping(request.form, csv_file.header)
    if errors:
        return _map_page(token, csv_file, mapping, errors, 400)
    job = desk_import.start_import(db.session, csv_file, mapping)
    enqueue("engage.subscriptions.run_import", job.id)  # relayed to a worker after the commit
    db.session.commit()
    # Its rows are in the job now: the file has done its work.
    desk_import.delete_upload(current_app.instance_path, token)
    return redirect(url_for("desk.import_job", job_id=job.id), code=303)


@bp.post(f"{IMPORT_PAGE}/<token>/abandon")
@role_required("editor")
def import_abandon(token: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    desk_import.delete_upload(current_app.instance_path, token)
    flash("The upload is deleted; nothing was imported.", "info")
    return redirect(url_for("desk.import_csv"), code=303)


def _job_or_404(job_id: int) -> importing.ImportJob:
    job = db.session.get(importing.ImportJob, job_id) if job_id <= MAX_ID else None
    if job is None:
        abort(404)
    return job


def _job_counts(job: importing.ImportJob) -> dict:
    return {
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "created": job.created,
        "updated": job.updated,
        "rejected": job.rejected_count,
        "finished": job.status in ("done", "failed"),
        "error": job.error if job.status == "failed" else None,
    }


@bp.get(f"{IMPORT_PAGE}/jobs/<int:job_id>")
@role_required("editor")
def import_job(job_id: int):
    job = _job_or_404(job_id)
    return render_template("subscriptions/desk/import_job.html", job=job, counts=_job_counts(job))


@bp.get(f"{IMPORT_PAGE}/jobs/<int:job_id>.json")
@role_required("editor")
def import_job_json(job_id: int):
    return jsonify(_job_counts(_job_or_404(job_id)))


@bp.get(f"{IMPORT_PAGE}/jobs/<int:job_id>/rejected.csv")
@role_required("editor")
def import_rejected_csv(job_id: int):
    job = _job_or_404(job_id)
    return Response(
        stream_with_context(desk_import.rejected_csv(db.session, job.id)),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="import-{job.id}-rejected.csv"',
        },
    )
