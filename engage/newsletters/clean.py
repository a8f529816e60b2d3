"""Clean a rendered newsletter's HTML for readers: what an editor's MJML may put in an email.

An MJML body passes raw HTML through (`<mj-raw>`, the content of `<mj-text>`), so the compiled
email could carry a `<script>`, a `<meta http-equiv=refresh>`, an `onload=`, a form, a frame, a
`javascript:` link or a remote image (a tracking pixel). `clean_newsletter_html` keeps what an
email needs and nothing else, with nh3 (an allow-list):

- the document's frame (doctype, `<html lang>`, `<body style>`) is rebuilt, not copied;
- the head keeps its title, the `Content-Type`/`X-UA-Compatible`/viewport metas and the style
  sheets mjml writes (with no `url(…)` to elsewhere, no `@import`, no `expression()`);
- the body keeps tables, text, lists, links (http, https, mailto, tel) and images that come from
  Engage itself (under BASE_URL) or a `data:` URI, with inline styles whose `url(…)`s obey the
  same rule;
- comments are kept, since Outlook reads mjml's `<!--[if mso]>` tables, unless they hold
  anything that loads or runs (an image, a link, a script, a `url(…)`).

The editor's validation (`engage.newsletters.validate`) refuses remote images with a message;
this is the safety net for what it does not catch and for bodies saved before it.
"""

from __future__ import annotations

import html
import re

import nh3

from engage.urls import is_remote_resource

# What an email's body is made of (mjml's output and an editor's prose).
BODY_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup",
        "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "i", "img", "ins", "li", "ol", "p", "pre", "s", "small", "span", "strike", "strong",
        "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
BODY_ATTRIBUTES = {
    "*": {
        "align", "aria-hidden", "aria-label", "aria-roledescription", "bgcolor", "border",
        "cellpadding", "cellspacing", "class", "color", "dir", "height", "lang", "role",
        "style", "title", "valign", "vertical-align", "width",
    },
    "a": {"href", "name", "target"},
    "img": {"alt", "src"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start", "type"},
    "font": {"face", "size"},
}  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "data"})
LINK_REL = "noopener"
# Scripts, styles and the like are removed with what they hold, not left as text.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "title", "noscript", "xmp"})

HEAD_TAGS = frozenset({"title", "meta", "style"})
HEAD_ATTRIBUTES = {"meta": {"name", "content", "charset"}, "style": {"type", "media"}}
HEAD_META_HTTP_EQUIV = {"meta": {"http-equiv": {"Content-Type", "X-UA-Compatible"}}}

_DOCUMENT = re.compile(
    r"^\s*(?:<!doctype[^>]*>)?\s*<html(?P<html>[^>]*)>\s*<head[^>]*>(?P<head>.*?)</head>\s*"
    r"<body(?P<body>[^>]*)>(?P<content>.*)</body>\s*</html>\s*$",
    re.IGNORECASE | re.DOTALL,
)
_HTML_ATTRIBUTE = re.compile(r'\s(lang|dir|xmlns(?::[a-z]+)?)="([A-Za-z0-9:/._-]*)"')
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"', re.IGNORECASE)
_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_STYLE_ELEMENT = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.DOTALL)
# A comment is only text to a browser, but Outlook renders conditional comments: keep none that
# could load or run anything.
_ACTIVE_IN_COMMENT = re.compile(
    r"<\s*/?\s*(?:script|iframe|frame|object|embed|applet|form|input|button|link|base|meta|img|"
    r"image|svg|math|video|audio|source|v:image|v:fill)\b"
    r"|\b(?:src|href|background|data|action|formaction|srcset|poster)\s*="
    r"|\bon[a-z]+\s*=|url\s*\(|@import|expression\s*\(|javascript:|behavior\s*:",
    re.IGNORECASE,
)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.DOTALL)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE | re.DOTALL)
_CSS_STRING = re.compile(r"""(['"])(.*?)\1""", re.DOTALL)
_CSS_ACTIVE = re.compile(
    r"@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|image-set\s*\(|"
    r"image\s*\(|element\s*\(|cross-fade\s*\(",
    re.IGNORECASE,
)


def css_text(css: str) -> str:
    """CSS with escapes decoded and comments removed: what a browser reads (`u\\72l(` is url()."""

    def unescape(match: re.Match) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
        return match.group(2)

    return _CSS_COMMENT.sub("", _CSS_ESCAPE.sub(unescape, css))


# Stands for a `url(` whose address cannot be read: what it loads cannot be told, so it counts
# as remote.
UNREADABLE_URL = "url(…)"


def css_urls(css: str) -> list[str]:
    """Every address `css` would load (url(…), @import "…"), UNREADABLE_URL for a broken one."""
    text = css_text(css)
    found = [match.group(2) for match in _CSS_URL.finditer(text)]
    if len(found) != len(re.findall(r"url\s*\(", text, re.IGNORECASE)):
        found.append(UNREADABLE_URL)
    if re.search(r"@import", text, re.IGNORECASE):
        found += [match.group(2) for match in _CSS_STRING.finditer(text)]
    return found


def is_remote(url: str, base_url: str) -> bool:
    """`engage.urls.is_remote_resource`, with UNREADABLE_URL counted as remote."""
    return url == UNREADABLE_URL or is_remote_resource(url, base_url)


def css_remote_urls(css: str, base_url: str) -> list[str]:
    """The addresses in `css` that would load from outside Engage."""
    return [url for url in css_urls(css) if is_remote(url, base_url)]


def css_is_safe(css: str, base_url: str) -> bool:
    """Whether `css` loads nothing from elsewhere and runs nothing."""
    return not _CSS_ACTIVE.search(css_text(css)) and not css_remote_urls(css, base_url)


def _declarations(style: str) -> list[str]:
    """`style` split at the semicolons between declarations (not those in strings or url())."""
    parts, current, quote, depth, escaped = [], [], "", 0, False
    for ch in style:
        current.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            parts.append("".join(current[:-1]))
            current = []
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _clean_style(value: str, base_url: str) -> str:
    # Declaration by declaration: a background image from elsewhere goes, the colour stays.
    kept = [part for part in _declarations(value) if css_is_safe(part, base_url)]
    return ";".join(kept) + (";" if kept and value.rstrip().endswith(";") else "")


def _attribute_filter(base_url: str):
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "style":
            return _clean_style(value, base_url) or None
        if attribute == "src":
            return None if is_remote_resource(value, base_url) else value
        if attribute == "href" and value.strip().lower().startswith("data:"):
            return None  # data: is for images only
        return value

    return keep


def _without_active_comments(markup: str) -> str:
    return _COMMENT.sub(
        lambda match: "" if _ACTIVE_IN_COMMENT.search(match.group(1)) else match.group(0), markup
    )


def clean_body(markup: str, base_url: str) -> str:
    """The body's content, cleaned (see the module's docstring)."""
    cleaned = nh3.clean(
        markup,
        tags=set(BODY_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in BODY_ATTRIBUTES.items()},
        attribute_filter=_attribute_filter(base_url),
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=False,
    )
    return _without_active_comments(cleaned)


def clean_head(markup: str, base_url: str) -> str:
    """The head's content: title, harmless metas, and style sheets that load nothing."""
    cleaned = nh3.clean(
        markup,
        tags=set(HEAD_TAGS),
        clean_content_tags={"script", "noscript", "template", "xmp"},
        attributes={tag: set(names) for tag, names in HEAD_ATTRIBUTES.items()},
        tag_attribute_values=HEAD_META_HTTP_EQUIV,
        link_rel=None,
        strip_comments=False,
    )
    cleaned = _STYLE_ELEMENT.sub(
        lambda match: match.group(0) if css_is_safe(match.group(2), base_url) else "", cleaned
    )
    return _without_active_comments(cleaned)


def clean_newsletter_html(markup: str, base_url: str) -> str:
    """A rendered newsletter (a whole HTML document) with only what an email may hold.

    `base_url`: images under it are Engage's own and stay; other remote images go.
    """
    match = _DOCUMENT.match(markup)
    if match is None:  # not the document mjml writes: keep only a cleaned body
        return (
            f"<!doctype html><html><head></head><body>{clean_body(markup, base_url)}</body></html>"
        )
    html_attributes = "".join(
        f' {name}="{value}"' for name, value in _HTML_ATTRIBUTE.findall(match.group("html"))
    )
    style = _STYLE_ATTRIBUTE.search(match.group("body"))
    body_style = _clean_style(html.unescape(style.group(1)), base_url) if style else ""
    body_attributes = f' style="{html.escape(body_style)}"' if body_style else ""
    return (
        f"<!doctype html><html{html_attributes}>"
        f"<head>{clean_head(match.group('head'), base_url)}</head>"
        f"<body{body_attributes}>{clean_body(match.group('content'), base_url)}</body></html>"
    )
