"""The public archive: a web version of each sent newsletter, a list of them and an Atom feed.

The web version is rendered with `personal_links=False`: it is the same for everyone, so it
carries no unsubscribe or preference link, no token and nothing about any reader.
"""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from engage.core.security import no_store
from engage.extensions import csrf, db, limiter
from engage.newsletters.models import Newsletter
from engage.newsletters.render import NewsletterRenderError, render_newsletter
from engage.types import utcnow
from engage.urls import external_url

bp = Blueprint("newsletters_public", __name__)

FEED_SIZE = 20
# The web version is the email's own HTML (cleaned when rendered, engage.newsletters.clean):
# its inline styles are allowed, nothing else is. `sandbox` runs no script and gives the page
# an origin of its own, whatever got past the cleaning; links opening a new tab still work.
WEB_VERSION_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
_BODY_OPEN = re.compile(r"<body[^>]*>", re.IGNORECASE)


def slugify(text: str, limit: int = 80) -> str:
    """A URL-safe slug of `text` ("Our news, in brief!" -> "our-news-in-brief")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "newsletter"


def _sent(limit: int | None = None) -> list[Newsletter]:
    query = (
        select(Newsletter)
        .where(Newsletter.status == "sent")
        .order_by(Newsletter.finished_at.desc(), Newsletter.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


# Readers get the "View in browser" link as soon as the first message leaves: the page must
# work while the rest are still sending (or paused), not only once the send is finished.
VIEWABLE = ("sending", "paused", "sent")


def _published(newsletter_id: int) -> Newsletter:
    newsletter = db.session.get(Newsletter, newsletter_id)
    if newsletter is None or newsletter.status not in VIEWABLE:
        abort(404)
    return newsletter


def _render_public(newsletter: Newsletter):
    return render_newsletter(
        newsletter.subject,
        newsletter.preheader,
        body_markdown=newsletter.body_markdown,
        body_mjml=newsletter.body_mjml,
        personal_links=False,
        dated=newsletter.started_at or newsletter.finished_at,
    )


def web_version_url(newsletter: Newsletter) -> str:
    """The absolute address of the newsletter's archive page (its "View in browser" link);
    it answers once sending has started."""
    return external_url(
        "newsletters_public.show", newsletter_id=newsletter.id, slug=slugify(newsletter.subject)
    )


def web_version_path(newsletter: Newsletter) -> str:
    return url_for(
        "newsletters_public.show", newsletter_id=newsletter.id, slug=slugify(newsletter.subject)
    )


@bp.app_context_processor
def _helpers():
    return {"newsletter_web_path": web_version_path}


@bp.get("/newsletters")
def index():
    return render_template("newsletters/public/index.html", newsletters=_sent())


@bp.get("/newsletters/<int:newsletter_id>-<slug>")
def show(newsletter_id: int, slug: str):
    newsletter = _published(newsletter_id)
    canonical = slugify(newsletter.subject)
    if slug != canonical:
        return redirect(web_version_path(newsletter), code=301)
    try:
        rendered = _render_public(newsletter)
    except NewsletterRenderError:
        abort(404)
    # A way back to the archive, at the top of the email's own page.
    back = (
        '<p style="margin:0;padding:12px 16px;font-family:sans-serif;font-size:15px;'
        'background:#ffffff;border-bottom:1px solid #dcd8cf">'
        f'<a href="{url_for(".index")}" style="color:#1d5f6b">All newsletters</a></p>'
    )
    page = _BODY_OPEN.sub(lambda match: match.group(0) + back, rendered.html, count=1)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = WEB_VERSION_CSP
    return response


@bp.get("/newsletters/feed.atom")
def feed():
    newsletters = _sent(FEED_SIZE)
    entries = []
    for newsletter in newsletters:
        try:
            text = _render_public(newsletter).text
        except NewsletterRenderError:
            text = newsletter.preheader
        entries.append(
            {
                "newsletter": newsletter,
                "url": external_url(
                    "newsletters_public.show",
                    newsletter_id=newsletter.id,
                    slug=slugify(newsletter.subject),
                ),
                "updated": newsletter.finished_at or newsletter.created_at,
                "text": text,
            }
        )
    updated = max((entry["updated"] for entry in entries), default=None) or utcnow()
    body = render_template(
        "newsletters/public/feed.atom",
        entries=entries,
        updated=updated,
        feed_url=external_url("newsletters_public.feed"),
        archive_url=external_url("newsletters_public.index"),
    )
    return Response(body, mimetype="application/atom+xml")


# --- links in test copies --------------------------------------------------------------------

TEST_LINK_KINDS = ("unsubscribe", "preferences")


@bp.route("/newsletters/test-copy/<kind>", methods=["GET", "POST"])
@no_store
@csrf.exempt  # a mail client's one-click POST carries no token, and nothing here changes
@limiter.exempt
def test_link(kind: str):
    """What an unsubscribe or preferences link in a test copy opens (see `send_test_message`
    in engage/newsletters/sending.py): nothing happens, and the page says so. The one-click
    POST (RFC 8058) gets the same answer in plain text."""
    if kind not in TEST_LINK_KINDS:
        abort(404)
    if request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click":
        return Response(
            "This came from a test copy of a newsletter: nothing was changed.\n",
            200,
            mimetype="text/plain",
        )
    return render_template("newsletters/public/test_link.html", kind=kind)
