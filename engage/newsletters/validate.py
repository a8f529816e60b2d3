"""Find what is wrong in a newsletter body, and on which line, before anyone sends it.

mjml-python reports malformed MJML as a ValueError with no line ("unexpected end of stream"),
and passes tags it does not know through silently, so a typo such as `<mj-txt>` would vanish
from the email. This module reads the body itself (html.parser, which tracks positions) and
reports each problem with its 1-based line in the body, as the editor sees it.

Markdown cannot fail to render, but some of what an editor writes does not reach the email
(raw HTML is shown as text, images become their alt text); those are warnings, not errors.

Remote images are errors: an image loaded from another host tells that host who opened the
email and when (a tracking pixel), and we promise readers no tracking. Images must be `data:`
URIs or served by Engage itself (under BASE_URL). Both the body as written (with its lines) and
the compiled email are searched, since some MJML elements bring remote icons of their own
(`<mj-social-element>`, `<mj-accordion>`, `<mj-carousel>`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from flask import current_app, has_app_context
from markdown_it import MarkdownIt
from mjml import mjml2html

from engage.newsletters.clean import css_urls, is_remote

# Tags the body may use: it is placed inside the shared layout's <mj-column>.
CONTENT_TAGS = frozenset(
    {
        "mj-accordion", "mj-accordion-element", "mj-accordion-text", "mj-accordion-title",
        "mj-button", "mj-carousel", "mj-carousel-image", "mj-divider", "mj-image",
        "mj-navbar", "mj-navbar-link", "mj-raw", "mj-social", "mj-social-element",
        "mj-spacer", "mj-table", "mj-text",
    }
)  # fmt: skip
# MJML tags that exist but belong to the layout, not to a newsletter's content.
LAYOUT_TAGS = frozenset(
    {
        "mjml", "mj-head", "mj-body", "mj-section", "mj-column", "mj-wrapper", "mj-group",
        "mj-hero", "mj-attributes", "mj-all", "mj-class", "mj-breakpoint", "mj-font",
        "mj-html-attributes", "mj-html-attribute", "mj-selector", "mj-preview", "mj-style",
        "mj-title", "mj-include",
    }
)  # fmt: skip
MJML_TAGS = CONTENT_TAGS | LAYOUT_TAGS
# HTML elements that have no closing tag.
VOID_TAGS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    }
)  # fmt: skip
# MJML tags usually written empty, which mjml-python still needs closed.
_EMPTY_TAGS = frozenset({"mj-image", "mj-divider", "mj-spacer", "mj-carousel-image"})
# What render_newsletter wraps a raw MJML body in, to compile it on its own.
_WRAP_OPEN = "<mjml><mj-body><mj-section><mj-column>"
_WRAP_CLOSE = "</mj-column></mj-section></mj-body></mjml>"
_POSITION = re.compile(r"at position (\d+)(?::\d+)?")
_BARE_LT = re.compile(r"<(?![A-Za-z/!?])")
_MJML_IN_MARKDOWN = re.compile(r"</?mj-[a-z-]+")
_TAG_IN_MARKDOWN = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")


@dataclass(frozen=True)
class Issue:
    """One problem in a body. `line` is 1-based in the body, or None when it is not known."""

    message: str
    line: int | None = None
    severity: str = "error"  # "error" blocks saving; "warning" is shown and saved anyway

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def _did_you_mean(tag: str) -> str:
    close = difflib.get_close_matches(tag, sorted(CONTENT_TAGS), n=1, cutoff=0.6)
    return f" Did you mean <{close[0]}>?" if close else ""


class _MjmlReader(HTMLParser):
    """Keeps its own stack of open tags, since HTMLParser forgives what mjml-python does not."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[tuple[str, int]] = []
        self.issues: list[Issue] = []

    @property
    def line(self) -> int:
        return self.getpos()[0]

    def _check_name(self, tag: str) -> None:
        if not tag.startswith("mj-") and tag != "mjml":
            return
        if tag in CONTENT_TAGS:
            return
        if tag in LAYOUT_TAGS:
            self.issues.append(
                Issue(
                    f"<{tag}> cannot be used in a newsletter body: the body is already placed "
                    "in the layout's column. Use content tags such as <mj-text>, <mj-button> "
                    "or <mj-image>.",
                    self.line,
                )
            )
            return
        self.issues.append(
            Issue(
                f"<{tag}> is not an MJML tag, so it would vanish from the email."
                + _did_you_mean(tag),
                self.line,
            )
        )

    def handle_starttag(self, tag, attrs):
        self._check_name(tag)
        if tag not in VOID_TAGS:
            self.stack.append((tag, self.line))

    def handle_startendtag(self, tag, attrs):
        self._check_name(tag)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        names = [name for name, _ in self.stack]
        if tag not in names:
            self.issues.append(Issue(f"</{tag}> closes a tag that is not open.", self.line))
            return
        while self.stack:
            name, opened = self.stack.pop()
            if name == tag:
                break
            self.issues.append(
                Issue(f"<{name}> opened on line {opened} is not closed before </{tag}>.", opened)
            )

    def handle_data(self, data):
        for match in _BARE_LT.finditer(data):
            line = self.line + data.count("\n", 0, match.start())
            self.issues.append(
                Issue("A “<” that does not start a tag: write &lt; to show the sign.", line)
            )

    def finish(self) -> list[Issue]:
        self.close()
        for name, opened in reversed(self.stack):
            hint = f" Write <{name} … /> or add </{name}>." if name in _EMPTY_TAGS else ""
            self.issues.append(
                Issue(f"<{name}> opened on line {opened} is never closed.{hint}", opened)
            )
        return sorted(self.issues, key=lambda issue: issue.line or 0)


def _line_at(source: str, offset: int) -> int:
    return source.count("\n", 0, max(0, offset)) + 1


def check_mjml(body: str, base_url: str | None = None) -> list[Issue]:
    """Problems in a raw MJML body (the column content), each with its line.

    `base_url`: where Engage's own images live (default: the app's BASE_URL, if any).
    """
    reader = _MjmlReader()
    reader.feed(body)
    issues = reader.finish()
    if issues:
        return issues
    # Nothing we recognise: let mjml-python have the last word, and place its complaint if it
    # says where (its positions count from the start of the wrapped document).
    try:
        compiled = mjml2html(_WRAP_OPEN + body + _WRAP_CLOSE, fonts={})
    except ValueError as exc:
        match = _POSITION.search(str(exc))
        line = _line_at(body, int(match.group(1)) - len(_WRAP_OPEN)) if match else None
        return [Issue(f"The MJML could not be read: {exc}", line)]
    return remote_images(body, base_url, compiled)


# --- remote images ----------------------------------------------------------------------------

# Attributes whose address is loaded as the email opens (links are followed only when clicked).
_LOADED_ATTRIBUTES = frozenset(
    {
        "src", "background", "background-url", "icon-wrapped-url", "icon-unwrapped-url",
        "left-icon", "right-icon", "poster", "lowsrc", "dynsrc", "data", "xlink:href",
    }
)  # fmt: skip
_LOADED_HREF_TAGS = frozenset({"link", "image", "use", "v:image", "v:fill"})
# Hosts of the icons some MJML elements use unless told otherwise.
_DEFAULT_ICON_HOSTS = {
    "www.mailjet.com": "<mj-social-element> (set its src)",
    "i.imgur.com": "<mj-accordion> or <mj-carousel> (set their icon attributes)",
}


def _base_url(base_url: str | None) -> str:
    if base_url is not None:
        return base_url
    return current_app.config["ENGAGE"].base_url if has_app_context() else ""


class _ImageReader(HTMLParser):
    """Every address the markup would load on opening (img src, background, url() in styles,
    inside conditional comments too), with its line."""

    def __init__(self, first_line: int = 1) -> None:
        super().__init__(convert_charrefs=True)
        self.first_line = first_line
        self.found: list[tuple[str, int]] = []
        self._in_style = False

    @property
    def line(self) -> int:
        return self.first_line + self.getpos()[0] - 1

    def _add(self, url: str) -> None:
        self.found.append((url.strip(), self.line))

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if not value:
                continue
            if name in _LOADED_ATTRIBUTES or (name == "href" and tag in _LOADED_HREF_TAGS):
                self._add(value)
            elif name == "srcset":
                for candidate in value.split(","):
                    self._add(candidate.strip().split(" ")[0])
            elif name == "style":
                self.found.extend((url, self.line) for url in css_urls(value))
        self._in_style = tag in ("style", "mj-style")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found.extend((url, self.line) for url in css_urls(data))

    def handle_comment(self, data):
        # Outlook renders what `<!--[if mso]>` comments hold.
        inner = _ImageReader(self.line)
        inner.feed(data)
        inner.close()
        self.found.extend(inner.found)


def _loaded(markup: str) -> list[tuple[str, int]]:
    reader = _ImageReader()
    reader.feed(markup)
    reader.close()
    return reader.found


def _remote_image_message(url: str, base_url: str) -> str:
    shown = url if len(url) <= 80 else url[:77] + "…"
    own = f"served by Engage (under {base_url})" if base_url else "served by Engage"
    return (
        f"Remote images are not allowed ({shown}): an image loaded from another site tells it "
        f"who opens the email, and when. Use a data: image or one {own}."
    )


def remote_images(
    body: str, base_url: str | None = None, compiled: str | None = None
) -> list[Issue]:
    """A remote image in a raw MJML body, or in what it compiles to, is an error (see the
    module's docstring). `base_url` as for check_mjml; `compiled`: the body's compiled HTML,
    if already at hand."""
    base_url = _base_url(base_url)
    issues: list[Issue] = []
    seen: set[str] = set()
    for url, line in _loaded(body):
        if is_remote(url, base_url) and url not in seen:
            seen.add(url)
            issues.append(Issue(_remote_image_message(url, base_url), line))
    if compiled is None:
        try:
            compiled = mjml2html(_WRAP_OPEN + body + _WRAP_CLOSE, fonts={})
        except ValueError:
            return issues
    for url, _ in _loaded(compiled):
        if not is_remote(url, base_url) or url in seen:
            continue
        seen.add(url)
        message = _remote_image_message(url, base_url)
        for host, element in _DEFAULT_ICON_HOSTS.items():
            if f"//{host}/" in url:
                message += f" It is the default icon of {element}."
        issues.append(Issue(message))
    return issues


def check_markdown(body: str) -> list[Issue]:
    """What a Markdown body loses on the way into the email, as warnings with their line."""
    # The same settings as engage.articles.service.render_markdown: raw HTML off.
    parser = MarkdownIt("commonmark", {"html": False})
    issues: list[Issue] = []
    for token in parser.parse(body or ""):
        if token.type != "inline":
            continue
        line = token.map[0] + 1 if token.map else None
        if any(child.type == "image" for child in token.children or []):
            issues.append(
                Issue(
                    "Images are left out of emails (a remote image tells its host who reads "
                    "what); their description is shown instead.",
                    line,
                    "warning",
                )
            )
        if _MJML_IN_MARKDOWN.search(token.content):
            issues.append(
                Issue(
                    "MJML in a Markdown body is shown as text. Choose “MJML” as the body "
                    "format to write MJML.",
                    line,
                    "warning",
                )
            )
        elif _TAG_IN_MARKDOWN.search(token.content):
            issues.append(Issue("HTML in a Markdown body is shown as text.", line, "warning"))
    return issues


def check_body(body: str, body_format: str, base_url: str | None = None) -> list[Issue]:
    """Problems in a body written as "markdown" or "mjml" (`base_url` as for check_mjml)."""
    if body_format == "mjml":
        if not body.strip():
            return [Issue("The MJML body is empty.", 1)]
        return check_mjml(body, base_url)
    return check_markdown(body)


def source_line(body: str, line: int | None) -> str:
    """The text of a 1-based line of the body, for showing next to its error ("" if none)."""
    if not line:
        return ""
    lines = body.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""
