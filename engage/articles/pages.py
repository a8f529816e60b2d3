"""Static pages: what we are, what we do with the little we store, and the site's icon."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory

bp = Blueprint("pages", __name__)


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")


@bp.get("/about")
def about():
    return render_template("pages/about.html")


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers and feed readers ask for at the root, whatever the page says."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/x-icon", max_age=86400
    )
