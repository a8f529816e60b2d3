"""Static pages: what we are, and what we do with the little we store."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")


@bp.get("/about")
def about():
    return render_template("pages/about.html")
