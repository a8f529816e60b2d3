"""Turn an email's templates and context into a subject, an HTML body and a plain-text body.

Each email is a folder `emails/<name>/` holding `subject.txt`, `body.txt` and `body.mjml`
(Jinja). The MJML extends the shared `emails/layout.mjml`, the text extends `emails/layout.txt`.
Jinja fills data first, then mjml-python compiles the result; the compiled HTML is cached by
its MJML source, so a newsletter sent to many people is compiled once.

Per-recipient values (unsubscribe and preference links) are not known when the content set is
rendered: pass `placeholder("UNSUBSCRIBE_URL")` as the value, render once, then call
`personalise(rendered, {"UNSUBSCRIBE_URL": url})` per recipient, a plain string substitution.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import jinja2
from flask import current_app
from mjml import mjml2html

from engage.crisis import email_text as crisis_email_text
from engage.mail.text import WIDTH, tidy_text

EMAILS_DIR = Path(__file__).resolve().parents[2] / "emails"
UNSUBSCRIBE_URL = "UNSUBSCRIBE_URL"
PREFERENCES_URL = "PREFERENCES_URL"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
_PLACEHOLDER = re.compile(r"%%([A-Z][A-Z0-9_]*)%%")


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class UnknownEmail(LookupError):
    """No template folder for this email name."""


def placeholder(key: str) -> str:
    """The marker `personalise` replaces, e.g. `%%UNSUBSCRIBE_URL%%`."""
    if not _KEY.match(key):
        raise ValueError(f"placeholder names are upper case letters, digits and _: {key!r}")
    return f"%%{key}%%"


def placeholders(rendered: Rendered) -> set[str]:
    """The placeholder names still present in a rendered email."""
    found = set()
    for part in (rendered.subject, rendered.html, rendered.text):
        found.update(_PLACEHOLDER.findall(part))
    return found


def personalise(rendered: Rendered, values: Mapping[str, str], strict: bool = True) -> Rendered:
    """Fill placeholders per recipient: HTML-escaped in the HTML part, verbatim in text.

    With `strict` (the default) a placeholder left unfilled raises ValueError, so nobody
    receives a link to `%%UNSUBSCRIBE_URL%%`.
    """
    subject, body_html, body_text = rendered.subject, rendered.html, rendered.text
    for key, value in values.items():
        marker = placeholder(key)
        value = str(value)
        subject = subject.replace(marker, value)
        body_text = body_text.replace(marker, value)
        body_html = body_html.replace(marker, html.escape(value, quote=True))
    result = Rendered(subject=subject, html=body_html, text=body_text)
    if strict and (left := placeholders(result)):
        raise ValueError(f"placeholders left unfilled: {', '.join(sorted(left))}")
    return result


def format_date(day: date | datetime) -> str:
    """A date as mastheads show it: "2 December 2026" (UTC for a datetime)."""
    if isinstance(day, datetime) and day.tzinfo is not None:
        day = day.astimezone(UTC)
    return f"{day.day} {day:%B %Y}"


def underline(text: str, rule: str = "=") -> str:
    """`text` as a plain-text heading: on one line (wrapped if long), ruled with `rule`."""
    lines = textwrap.wrap(" ".join(str(text).split()), WIDTH, break_long_words=False) or [""]
    return "\n".join([*lines, rule * max(len(line) for line in lines)])


def quote(text: str) -> str:
    """`text` quoted the plain-text way: every line starts with `> `."""
    lines = str(text).strip("\n").splitlines() or [""]
    return "\n".join(f"> {line}".rstrip() for line in lines)


@lru_cache(maxsize=8)
def _environments(folder: str) -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(folder)
    common = {
        "loader": loader,
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    markup = jinja2.Environment(autoescape=True, **common)  # noqa: S701 (autoescape is on)
    text = jinja2.Environment(autoescape=False, **common)  # noqa: S701 (plain text, never HTML)
    text.filters["underline"] = underline
    text.filters["quote"] = quote
    return markup, text


@lru_cache(maxsize=128)
def compile_mjml(source: str) -> str:
    """MJML to HTML, without web fonts (mjml-python links Google Fonts unless `fonts={}`)."""
    return mjml2html(source, fonts={})


def layout_context() -> dict[str, str]:
    """The values every email's layout needs, from the app settings."""
    from email.utils import parseaddr

    settings = current_app.config["ENGAGE"]
    return {
        "site_name": settings.site_name,
        "sender_address": parseaddr(settings.mail_from)[1],
        # Numbers of the instance's country (CRISIS_COUNTRY), with the operator's CRISIS_TEXT.
        "crisis_text": crisis_email_text(
            settings.crisis_resources, settings.crisis_country, settings.crisis_note
        ),
        "base_url": settings.base_url,
    }


def require_email(name: str, folder: Path | None = None) -> Path:
    """The templates folder holding email `name`; raises UnknownEmail if there is none."""
    if not _NAME.match(name):
        raise UnknownEmail(f"not an email name: {name!r}")
    folder = folder or Path(current_app.config.get("EMAIL_TEMPLATES_DIR") or EMAILS_DIR)
    if not all(
        (folder / name / part).is_file() for part in ("subject.txt", "body.txt", "body.mjml")
    ):
        raise UnknownEmail(f"no templates for email {name!r} in {folder}")
    return folder


def render_email(name: str, context: Mapping[str, object], folder: Path | None = None) -> Rendered:
    """Render `emails/<name>/` with `context` (needs an app context for the site settings).

    Bulk mail passes `unsubscribe_url` and `preferences_url` (usually placeholders) to fill the
    footer links; transactional mail leaves them out and the footer has no such links. A
    masthead under the title shows `dateline` and a "View in browser" link to `view_url` when
    given. The text part is finished by `engage.mail.text.tidy_text` (wrapped, no blank runs).
    Raises UnknownEmail for a name with no templates.
    """
    folder = require_email(name, folder)
    markup, text = _environments(str(folder))
    values: dict[str, object] = {
        "unsubscribe_url": None,
        "preferences_url": None,
        "unsubscribe_label": "Unsubscribe",
        "dateline": "",
        "view_url": "",
        **context,
    }
    values.update(layout_context())
    subject = " ".join(text.get_template(f"{name}/subject.txt").render(values).split())
    values["subject"] = subject
    body_text = tidy_text(text.get_template(f"{name}/body.txt").render(values))
    source = markup.get_template(f"{name}/body.mjml").render(values)
    return Rendered(subject=subject, html=compile_mjml(source), text=body_text)
