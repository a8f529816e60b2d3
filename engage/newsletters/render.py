"""Turn a newsletter into email: once per newsletter, with placeholders for each recipient.

The body is Markdown (rendered, cleaned by nh3, placed in the shared layout) or raw MJML column
content (mj-text, mj-button, mj-image…) placed in the same layout, so every newsletter keeps the
crisis line and the unsubscribe and preference links. The compiled HTML is cleaned once more as a
whole (engage.newsletters.clean), since MJML passes raw HTML through.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from flask import current_app

from engage.articles.service import render_markdown
from engage.mail.render import (
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    Rendered,
    compile_mjml,
    placeholder,
    render_email,
)
from engage.newsletters.clean import clean_newsletter_html

# Newsletter links are the editor's own: no rel="nofollow ugc".
NEWSLETTER_LINK_REL = "noopener"


class NewsletterRenderError(ValueError):
    """The body cannot be rendered. `line` is the 1-based line in the body, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def html_to_text(markup: str) -> str:
    """A readable plain-text version of simple HTML (for raw MJML bodies)."""
    text = re.sub(r"(?is)<(script|style|head|mj-style|mj-head).*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li|tr|mj-text|mj-section)>", "\n\n", text)
    text = re.sub(r"(?s)<[^>]+>", "", text)
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def content_from_markdown(body_markdown: str) -> tuple[str, str]:
    """(MJML column content, plain text) for a Markdown body."""
    body_html = render_markdown(body_markdown, link_rel=NEWSLETTER_LINK_REL)
    return f"<mj-text>{body_html}</mj-text>", body_markdown.strip()


# Control characters (other than tab and line breaks) have no meaning in a newsletter, and the
# MJML parser refuses them: a pasted one would make the whole body unreadable.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(text: str) -> str:
    return _CONTROL.sub("", text)


def render_newsletter(
    subject: str,
    preheader: str = "",
    body_markdown: str | None = None,
    body_mjml: str | None = None,
    personal_links: bool = True,
) -> Rendered:
    """Render once. With `personal_links`, the unsubscribe and preference links are
    placeholders for `engage.mail.render.personalise`; without (the public web version), the
    footer has no personal links at all. Raises NewsletterRenderError."""
    if body_mjml and body_mjml.strip():
        content_mjml = body_mjml
        try:
            content_text = html_to_text(
                compile_mjml(
                    "<mjml><mj-body><mj-section><mj-column>"
                    f"{body_mjml}</mj-column></mj-section></mj-body></mjml>"
                )
            )
        except ValueError as exc:  # mjml-python reports malformed MJML as ValueError
            raise NewsletterRenderError(f"The MJML could not be read: {exc}") from None
    else:
        content_mjml, content_text = content_from_markdown(_printable(body_markdown or ""))
    context = {
        "newsletter_subject": subject,
        "preheader": preheader,
        "content_mjml": content_mjml,
        "content_text": content_text,
    }
    if personal_links:
        context["unsubscribe_url"] = placeholder(UNSUBSCRIBE_URL)
        context["preferences_url"] = placeholder(PREFERENCES_URL)
    try:
        rendered = render_email("newsletter", context)
    except ValueError as exc:  # mjml-python reports malformed MJML as ValueError
        raise NewsletterRenderError(f"The MJML could not be read: {exc}") from None
    # Whatever the body held, readers (in the email, the archive, the feed) get only what an
    # email may hold: no script, no refresh, no handler, no remote image.
    base_url = current_app.config["ENGAGE"].base_url
    return replace(rendered, html=clean_newsletter_html(rendered.html, base_url))
