"""Staff sign-in and sign-out, and the admin landing page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from engage.accounts import service
from engage.accounts.forms import LoginForm
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
    failed_mail = outbox.counts(db.session)["failed"] if current_user.can("editor") else 0
    return render_template("accounts/dashboard.html", user=current_user, failed_mail=failed_mail)
