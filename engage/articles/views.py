"""The home page and article pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from markupsafe import Markup

from engage.articles import service
from engage.extensions import db

bp = Blueprint("articles", __name__)


@bp.get("/")
def home():
    events = service.upcoming_events(db.session)
    return render_template(
        "articles/home.html",
        articles=service.published_articles(db.session),
        events=[(event, service.local_start(event)) for event in events],
        groups=service.listed_groups(db.session),
    )


@bp.get("/articles/<slug>")
def show(slug: str):
    article = service.published_article(db.session, slug)
    if article is None:
        abort(404)
    # render_markdown escapes raw HTML and cleans the result with nh3, so it is safe to mark.
    body = Markup(service.render_markdown(article.body_markdown))  # noqa: S704
    return render_template("articles/show.html", article=article, body=body)
