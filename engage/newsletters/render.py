"""Turn a newsletter into email: once per newsletter, with placeholders for each recipient.

The body is Markdown (rendered, cleaned by nh3, placed in the shared layout) or raw MJML column
content (mj-text, mj-button, mj-image…) placed in the same layout, so every newsletter keeps the
crisis line and the unsubscribe and preference links. The compiled HTML is cleaned once more as a
whole (engage.newsletters.clean), since MJML passes raw HTML through.

The content's look (CONTENT_CSS) is inlined into its HTML with css-inline once per render, since
mail programs ignore style sheets and mjml-python does not inline mj-style. The text part is
made from the same HTML by engage.mail.text.html_to_text, so it keeps every link.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime

import css_inline
from flask import current_app

from engage.articles.service import render_markdown
from engage.mail.render import (
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    Rendered,
    compile_mjml,
    format_date,
    placeholder,
    render_email,
)
from engage.mail.text import html_to_text
from engage.newsletters.clean import clean_newsletter_html

# Newsletter links are the editor's own: no rel="nofollow ugc".
NEWSLETTER_LINK_REL = "noopener"


class NewsletterRenderError(ValueError):
    """The body cannot be rendered. `line` is the 1-based line in the body, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


# The content's look, inlined into its HTML (mail programs drop or ignore <style>; mjml-python
# does not inline mj-style). Colours are the layout's: links in the site's teal, underlined.
CONTENT_CSS = """
a { color: #2f5d62; text-decoration: underline; }
h2 { font-size: 22px; line-height: 1.3; font-weight: 700; color: #1f2933; margin: 28px 0 8px; }
h3 { font-size: 19px; line-height: 1.35; font-weight: 700; color: #1f2933; margin: 24px 0 8px; }
h4, h5, h6 { font-size: 16px; line-height: 1.4; font-weight: 700; color: #1f2933;
  margin: 20px 0 8px; }
p { margin: 0 0 16px; }
ul, ol { margin: 0 0 16px; padding: 0 0 0 24px; }
li { margin: 0 0 8px; }
blockquote { margin: 0 0 16px; padding: 4px 0 4px 16px; border-left: 4px solid #2f5d62;
  color: #3e4c59; }
blockquote p { margin: 0 0 8px; }
img { max-width: 100%; height: auto; border: 0; }
hr { border: 0; border-top: 1px solid #d9dde3; margin: 24px 0; }
code { font-family: Menlo, Consolas, monospace; font-size: 14px; background-color: #f4f5f7; }
pre { font-family: Menlo, Consolas, monospace; font-size: 14px; line-height: 1.5;
  white-space: pre-wrap; background-color: #f4f5f7; padding: 12px; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 0 0 16px; }
th, td { border: 1px solid #d9dde3; padding: 6px 8px; text-align: left; }
"""
_MJ_TEXT = re.compile(r"(<mj-text\b[^>]*>)(.*?)(</mj-text>)", re.IGNORECASE | re.DOTALL)


def style_content(fragment: str) -> str:
    """`fragment` (HTML) with CONTENT_CSS inlined; styles it already has win. HTML the
    inliner cannot read is returned as it was (unstyled, never lost)."""
    try:
        return css_inline.inline_fragment(fragment, CONTENT_CSS, load_remote_stylesheets=False)
    except (css_inline.InlineError, ValueError):
        return fragment


def style_mjml(body_mjml: str) -> str:
    """A raw MJML body with CONTENT_CSS inlined into the HTML of each <mj-text>."""
    return _MJ_TEXT.sub(
        lambda match: match.group(1) + style_content(match.group(2)) + match.group(3), body_mjml
    )


def content_from_markdown(body_markdown: str) -> tuple[str, str]:
    """(MJML column content, plain text) for a Markdown body."""
    body_html = render_markdown(body_markdown, link_rel=NEWSLETTER_LINK_REL)
    mjml = f'<mj-text css-class="content">{style_content(body_html)}</mj-text>'
    return mjml, html_to_text(body_html)


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
    *,
    dated: date | datetime | None = None,
    web_url: str = "",
) -> Rendered:
    """Render once. With `personal_links`, the unsubscribe and preference links are
    placeholders for `engage.mail.render.personalise`; without (the public web version), the
    footer has no personal links at all. The masthead shows `dated` and a "View in browser"
    link to `web_url` (the archive page) when given. Raises NewsletterRenderError."""
    if body_mjml and body_mjml.strip():
        content_mjml = style_mjml(body_mjml)
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
        "dateline": format_date(dated) if dated else "",
        "view_url": web_url,
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
