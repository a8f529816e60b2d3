"""Staff sign-in and sign-out, the admin landing page, and API keys (admins only)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from engage.accounts import notifications as notices
from engage.accounts import service
from engage.accounts.access import role_required
from engage.accounts.forms import ApiKeyForm, ButtonForm, LoginForm
from engage.accounts.models import NOTIFY_CHOICES, NOTIFY_KINDS, ROLES
from engage.extensions import db, limiter
from engage.sending import outbox

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: a crafted ?next= must not send a moderator elsewhere.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("accounts.dashboard")


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["ENGAGE"].login_rate_limit


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: r.status_code != 302)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(db.session, form.email.data, form.password.data)
        if user is not None and user.totp_enabled:
            from engage.accounts.staff_views import begin_second_step

            begin_second_step(user, request.args.get("next"))
            db.session.commit()
            return redirect(url_for("accounts.login_code"))
        if user is not None:
            login_user(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        flash("That email address and password do not match an account.", "error")
        return render_template("accounts/login.html", form=form), 401
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # Not only this cookie: a copy of any session of this user must stop working too.
        service.end_sessions(current_user)
        db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("articles.home"))


@bp.get("/admin/")
@login_required
def dashboard():
    from engage.stats.views import dashboard_context

    failed_mail = outbox.counts(db.session)["failed"] if current_user.can("editor") else 0
    desk_counts = None
    if current_user.can("editor"):
        from engage.subscriptions.desk import desk_counts as counts  # an area above accounts

        desk_counts = counts(db.session)
    return render_template(
        "accounts/dashboard.html",
        user=current_user,
        failed_mail=failed_mail,
        desk=desk_counts,
        **dashboard_context(current_user),
    )


# --- API keys: list, create (the key shown once), revoke after a confirmation ---------------


def _keys_page(form: ApiKeyForm, *, errors: dict | None = None, created=None, status: int = 200):
    response = make_response(
        render_template(
            "accounts/api_keys.html",
            form=form,
            roles=ROLES,
            keys=service.list_api_keys(db.session),
            state=service.key_state,
            errors=errors or {},
            created=created,
        ),
        status,
    )
    # The page may carry a key in clear: no cache, shared or private, may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/api-keys", methods=["GET", "POST"])
@role_required("admin")
def api_keys():
    form = ApiKeyForm()
    if request.method == "GET":
        return _keys_page(form)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _keys_page(form, errors={"name": "Please check this form."}, status=400)
    raw_days = (form.expires_in.data or "").strip()
    if raw_days and not raw_days.isdigit():
        return _keys_page(
            form, errors={"expires_in": "Enter a number of days, or leave it empty."}, status=400
        )
    try:
        key, secret = service.create_api_key(
            db.session,
            form.name.data or "",
            (form.role.data or "").strip(),
            current_user,
            expires_in_days=int(raw_days) if raw_days else None,
        )
    except service.AccountError as exc:
        db.session.rollback()
        message = str(exc)
        return _keys_page(
            form, errors={exc.field or "name": message[0].upper() + message[1:] + "."}, status=400
        )
    db.session.commit()
    # Rendered, not redirected: a flash message would keep the key in the session cookie.
    return _keys_page(ApiKeyForm(formdata=None), created=(key, secret))


def _key_or_404(key_id: int):
    from engage.accounts.models import ApiKey

    key = db.session.get(ApiKey, key_id) if key_id < 2**31 else None
    if key is None:
        abort(404)
    return key


@bp.route("/admin/api-keys/<int:key_id>/revoke", methods=["GET", "POST"])
@role_required("admin")
def revoke_api_key(key_id: int):
    key = _key_or_404(key_id)
    form = ButtonForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("accounts/api_key_revoke.html", key=key, form=form), status
    _, changed = service.revoke_api_key(db.session, key.id)
    db.session.commit()
    if changed:
        flash(f"Revoked the key “{key.name}”: it no longer works.", "info")
    else:
        flash(f"The key “{key.name}” was already revoked.", "info")
    return redirect(url_for("accounts.api_keys"), code=303)


# --- Email notices: each member of staff chooses their own (engage/accounts/notifications.py)


def _notices_page(form: ButtonForm, chosen: dict[str, str], error: str = "", status: int = 200):
    kinds = notices.kinds_for(current_user)
    return render_template(
        "accounts/notifications.html",
        form=form,
        user=current_user,
        kinds=kinds,
        chosen=chosen,
        defaults={kind: notices.default_choice(current_user, kind) for kind in kinds},
        kind_labels=notices.KIND_LABELS,
        choice_labels=notices.CHOICE_LABELS,
        choice_values=NOTIFY_CHOICES,
        error=error,
    ), status


@bp.route("/admin/account/notifications", methods=["GET", "POST"])
@role_required("moderator")
def notifications():
    form = ButtonForm()
    chosen = notices.choices_of(db.session, current_user)
    if request.method == "GET":
        return _notices_page(form, chosen)
    if not form.validate_on_submit():
        return _notices_page(form, chosen, "The form had expired. Please try again.", 400)
    # A group left unanswered keeps its setting; a kind the role does not receive is refused.
    submitted = {kind: request.form[kind] for kind in NOTIFY_KINDS if kind in request.form}
    try:
        notices.save_choices(db.session, current_user, submitted)
    except notices.NotificationError as exc:
        db.session.rollback()
        return _notices_page(form, chosen, str(exc), 400)
    db.session.commit()
    flash("Saved: your email notices are set.", "info")
    return redirect(url_for("accounts.notifications"), code=303)
