"""/admin/staff (admins: invite, change roles, deactivate), the invitation page that sets a
password, and two-factor sign-in: set-up on /admin/account/2fa and the second sign-in step."""

from __future__ import annotations

import time

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from engage.accounts import staff, two_factor
from engage.accounts.access import role_required
from engage.accounts.forms import ButtonForm, CodeForm, InviteForm, NewPasswordForm, RoleForm
from engage.accounts.models import ROLES, User
from engage.accounts.service import AccountError
from engage.accounts.views import _login_limit, _safe_next, bp
from engage.extensions import db, limiter
from engage.tokens import TokenError

# The password step is good for this long before the code must follow.
PENDING_SECONDS = 300
PENDING_KEY = "staff_2fa_pending"


def _sentence(exc: Exception) -> str:
    message = str(exc)
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _no_store(response):
    # Pages with secrets (a TOTP secret, recovery codes) must not stay in any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- /admin/staff -------------------------------------------------------------------------


def _staff_page(form: InviteForm, *, errors: dict | None = None, status: int = 200):
    return (
        render_template(
            "accounts/staff.html",
            form=form,
            roles=ROLES,
            staff=staff.list_staff(db.session),
            button=ButtonForm(),
            errors=errors or {},
        ),
        status,
    )


@bp.route("/admin/staff", methods=["GET", "POST"])
@role_required("admin")
def staff_list():
    form = InviteForm()
    if request.method == "GET":
        return _staff_page(form)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _staff_page(form, errors={"email": "Please check this form."}, status=400)
    try:
        user = staff.invite(
            db.session,
            form.email.data or "",
            form.name.data or "",
            (form.role.data or "").strip(),
        )
    except AccountError as exc:
        db.session.rollback()
        return _staff_page(form, errors={exc.field or "email": _sentence(exc)}, status=400)
    staff.queue_invite_email(user, current_user)
    db.session.commit()
    flash(f"Invited {user.email}: the link in the email works once, for 72 hours.", "info")
    return redirect(url_for("accounts.staff_list"), code=303)


def _staff_member(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id < 2**31 else None
    if user is None:
        abort(404)
    return user


@bp.post("/admin/staff/<int:user_id>/role")
@role_required("admin")
def staff_role(user_id: int):
    user = _staff_member(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = staff.change_role(db.session, current_user, user, (form.role.data or "").strip())
    except AccountError as exc:
        db.session.rollback()
        flash(_sentence(exc), "error")
        return redirect(url_for("accounts.staff_list"), code=303)
    db.session.commit()
    if changed:
        flash(
            f"{user.email} is now {'a' if user.role == 'moderator' else 'an'} {user.role}.", "info"
        )
    return redirect(url_for("accounts.staff_list"), code=303)


@bp.post("/admin/staff/<int:user_id>/<any(deactivate, reactivate):action>")
@role_required("admin")
def staff_active(user_id: int, action: str):
    user = _staff_member(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    active = action == "reactivate"
    try:
        changed = staff.set_staff_active(db.session, current_user, user, active)
    except AccountError as exc:
        db.session.rollback()
        flash(_sentence(exc), "error")
        return redirect(url_for("accounts.staff_list"), code=303)
    db.session.commit()
    if changed and active:
        flash(f"Reactivated {user.email}: they can sign in again.", "info")
    elif changed:
        flash(f"Deactivated {user.email}: every session of theirs has ended.", "info")
    return redirect(url_for("accounts.staff_list"), code=303)


# --- The invitation link -----------------------------------------------------------------


@bp.route("/staff/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: r.status_code != 303)
def accept_invite(token: str):
    try:
        user = staff.invited_user(db.session, token)
    except TokenError as exc:
        message = str(exc)
        if exc.expired:
            message = "This invitation has expired: invitations work for 72 hours. "
            message += "Ask an admin for a new one."
        status = 410 if exc.expired or isinstance(exc, staff.InviteSpent) else 404
        return render_template("accounts/invite_invalid.html", message=message), status
    form = NewPasswordForm()
    error = ""
    if request.method == "POST":
        if not form.validate_on_submit():
            if "csrf_token" in form.errors:
                abort(400)
            error = "Please check this form."
        elif form.password.data != form.confirm.data:
            error = "The two passwords are not the same."
        else:
            try:
                staff.accept_invite(db.session, user, form.password.data or "")
            except AccountError as exc:
                db.session.rollback()
                error = _sentence(exc)
            else:
                db.session.commit()
                flash("Your password is set. Sign in with it now.", "info")
                return redirect(url_for("accounts.login"), code=303)
    response = make_response(
        render_template("accounts/invite_accept.html", user=user, form=form, error=error),
        400 if error else 200,
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return _no_store(response)


# --- Two-factor: the second sign-in step ------------------------------------------------


def begin_second_step(user: User, next_url: str | None) -> None:
    """Remember, in the session, who gave the right password (until the code follows)."""
    session[PENDING_KEY] = {
        "id": user.id,
        "key": user.session_key,
        "at": int(time.time()),
        "next": next_url or "",
    }


def _pending_user() -> User | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("id")) if isinstance(pending.get("id"), int) else None
    if user is None or not user.active or user.session_key != pending.get("key"):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: r.status_code != 302)
def login_code():
    user = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash("Please sign in again: the code must follow the password within five minutes.")
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        accepted = two_factor.verify(db.session, user, form.code.data or "")
        db.session.commit()  # a spent recovery code or TOTP step stays spent
        if accepted:
            next_url = session.pop(PENDING_KEY)["next"]
            login_user(user)
            return redirect(_safe_next(next_url or None))
        flash(
            "That code did not work. Codes change every 30 seconds and each works once; "
            "a recovery code works too.",
            "error",
        )
        return render_template("accounts/login_code.html", form=form), 401
    return render_template("accounts/login_code.html", form=form)


# --- Two-factor: set-up for the signed-in user -------------------------------------------


def _two_factor_page(*, codes: list[str] | None = None, error: str = "", status: int = 200):
    user = current_user._get_current_object()
    secret = two_factor.pending_secret(user)
    uri = two_factor.provisioning_uri(user, secret) if secret else None
    return _no_store(
        make_response(
            render_template(
                "accounts/two_factor.html",
                user=user,
                secret=secret,
                uri=uri,
                qr=two_factor.qr_svg(uri) if uri else None,
                codes=codes,
                codes_left=two_factor.recovery_codes_left(user),
                required=current_app.config["ENGAGE"].staff_2fa == "required",
                button=ButtonForm(),
                form=CodeForm(formdata=None),
                error=error,
            ),
            status,
        )
    )


@bp.route("/admin/account/2fa", methods=["GET", "POST"])
@login_required
def two_factor_setup():
    if request.method == "GET":
        return _two_factor_page()
    form = CodeForm()
    if not form.validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    action = request.form.get("action", "")
    if action == "start" and not user.totp_enabled:
        two_factor.start_setup(db.session, user)
        db.session.commit()
        return _two_factor_page()
    if action == "confirm" and not user.totp_enabled:
        codes = two_factor.confirm_setup(db.session, user, form.code.data or "")
        db.session.commit()
        if codes is None:
            return _two_factor_page(
                error="That code did not match. Enter the 6-digit code your app shows now.",
                status=400,
            )
        # Rendered, not redirected: a flash message would keep the codes in the cookie.
        return _two_factor_page(codes=codes)
    if action == "disable" and user.totp_enabled:
        if current_app.config["ENGAGE"].staff_2fa == "required":
            return _two_factor_page(
                error="Two-factor sign-in is required here and cannot be turned off.", status=400
            )
        if not two_factor.verify(db.session, user, form.code.data or ""):
            db.session.commit()
            return _two_factor_page(
                error="That code did not work, so two-factor sign-in stays on.", status=400
            )
        two_factor.disable(db.session, user)
        db.session.commit()
        flash("Two-factor sign-in is off.", "info")
        return redirect(url_for("accounts.two_factor_setup"), code=303)
    return redirect(url_for("accounts.two_factor_setup"), code=303)


def require_two_factor():
    """`before_request`: with STAFF_2FA=required, a signed-in user without two-factor sees
    only its set-up page among the admin pages."""
    if current_app.config["ENGAGE"].staff_2fa != "required":
        return None
    if not request.path.startswith("/admin") or request.endpoint == "accounts.two_factor_setup":
        return None
    if current_user.is_authenticated and not current_user.totp_enabled:
        flash("Set up two-factor sign-in before you continue: it is required here.", "info")
        return redirect(url_for("accounts.two_factor_setup"))
    return None
