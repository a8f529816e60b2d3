"""Plain text for email: our HTML turned into prose that reads well without a renderer.

`html_to_text` is the one converter from the HTML we write (a newsletter's Markdown or MJML
body, compiled) to the text part. Its conventions:

- a link reads `text (url)`, or the URL alone when its text is the URL; `mailto:` shows the
  address; links to nowhere (`#…`, `javascript:`) keep only their text;
- `<h1>` is underlined with `=`, `<h2>` with `-`, smaller headings stand on their own line;
- list items start with `- ` (or `1. ` in an ordered list), quotes with `> `;
- `<br>` keeps its line break, `<pre>` its lines; `<hr>` is a line of dashes;
- images become their alt text; anything hidden (`display:none`), scripts and styles vanish;
- entities are decoded and invisible padding (zero-width joiners and the like) dropped;
- lines are wrapped at `width` on spaces only, so a URL is never broken.

`tidy_text` gives a text part written by hand (a `body.txt` template) the same finish: at most
one blank line in a row, long lines wrapped the same way.
"""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser

WIDTH = 72

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED = frozenset({"head", "script", "style", "title", "noscript", "template", "xmp"})
_VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"})
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.I)
# Preheader padding and other characters that show nothing.
_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BREAK = "\x00"  # a <br> inside running text, until the paragraph is laid out


def _link_target(href: str) -> str:
    """What the reader should see of `href`: "" for a link that goes nowhere they can follow."""
    href = href.strip()
    lowered = href.lower()
    if lowered.startswith("mailto:"):
        return href[len("mailto:") :].split("?", 1)[0]
    if lowered.startswith(("http://", "https://", "tel:", "%%")):
        return href
    return ""


def _same(label: str, target: str) -> bool:
    def bare(value: str) -> str:
        value = re.sub(r"(?i)^(https?://|mailto:|tel:)", "", value.strip())
        return value.rstrip("/").lower()

    return bare(label) == bare(target)


class _Paragraph:
    __slots__ = ("first", "rest", "text", "kind", "tight")

    def __init__(self, first: str, rest: str, text: str, kind: str, tight: bool):
        self.first, self.rest, self.text, self.kind, self.tight = first, rest, text, kind, tight


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[_Paragraph] = []
        self.inline: list[str] = []
        self.skip = 0  # depth inside something not shown
        self.open: list[tuple[str, bool]] = []  # (tag, hides its content) for hidden tracking
        self.quote = 0
        self.lists: list[list] = []  # [tag, next number]
        self.item_marker: str | None = None  # the bullet waiting for the item's first line
        self.links: list[tuple[str, int]] = []  # (target, where its text starts in inline)
        self.pre = 0
        self.heading: str | None = None

    # --- structure ---------------------------------------------------------------------

    def _prefixes(self) -> tuple[str, str]:
        quote = "> " * self.quote
        indent = "".join("  " if kind == "ul" else "   " for kind, _ in self.lists[:-1])
        if not self.lists:
            return quote, quote
        marker_width = len(self.item_marker) if self.item_marker else self._marker_width()
        rest = quote + indent + " " * marker_width
        if self.item_marker:
            return quote + indent + self.item_marker, rest
        return rest, rest

    def _marker_width(self) -> int:
        kind, number = self.lists[-1]
        return 2 if kind == "ul" else len(f"{max(number - 1, 1)}. ")

    def flush(self, kind: str = "p") -> None:
        text = "".join(self.inline)
        self.inline = []
        if self.pre:
            if not text.strip("\n"):
                return
        else:
            text = "\n".join(" ".join(part.split()) for part in text.split(_BREAK)).strip("\n ")
            if not text.strip():
                return
        first, rest = self._prefixes()
        tight = bool(self.lists) and bool(self.paragraphs) and self.paragraphs[-1].kind == "li"
        self.paragraphs.append(_Paragraph(first, rest, text, kind, tight))
        self.item_marker = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        hides = tag in _SKIPPED or bool(_HIDDEN.search(attributes.get("style") or ""))
        if tag not in _VOID:
            self.open.append((tag, hides))
        if hides:
            self.skip += 1
        if self.skip:
            return
        if tag in _BLOCKS:
            self.flush(self._kind())
        if tag == "br":
            self.inline.append("\n" if self.pre else _BREAK)
        elif tag == "hr":
            self.paragraphs.append(_Paragraph("", "", "-" * 24, "hr", False))
        elif tag == "img":
            alt = " ".join((attributes.get("alt") or "").split())
            if alt:
                self.inline.append(alt)
        elif tag == "a":
            self.links.append((_link_target(attributes.get("href") or ""), len(self.inline)))
        elif tag == "blockquote":
            self.quote += 1
        elif tag in ("ul", "ol"):
            start = attributes.get("start") or "1"
            self.lists.append([tag, int(start) if start.isdigit() else 1])
        elif tag == "li" and self.lists:
            kind, number = self.lists[-1]
            self.item_marker = "- " if kind == "ul" else f"{number}. "
            self.lists[-1][1] = number + 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = tag

    def _kind(self) -> str:
        if self.heading:
            return self.heading
        if self.pre:
            return "pre"
        return "li" if self.lists else "p"

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        # Close up to the matching open tag (HTML forgives missing end tags).
        if not any(name == tag for name, _ in self.open):
            return
        while self.open:
            name, hides = self.open.pop()
            if hides:
                self.skip -= 1
                continue
            if self.skip:
                if name == tag:
                    break
                continue
            self._close(name)
            if name == tag:
                break

    def _close(self, tag: str) -> None:
        if tag == "a" and self.links:
            target, start = self.links.pop()
            label = " ".join("".join(self.inline[start:]).replace(_BREAK, " ").split())
            if target and not label:
                self.inline.append(target)
            elif target and not _same(label, target):
                self.inline.append(f" ({target})")
            return
        if tag not in _BLOCKS:
            return
        self.flush(self._kind())
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
        elif tag == self.heading:
            self.heading = None

    def handle_data(self, data):
        if self.skip:
            return
        data = _INVISIBLE.sub("", data)
        if not self.pre:
            data = _SPACES.sub(" ", data)
        self.inline.append(data)

    def close(self) -> None:
        super().close()
        while self.open:
            name, hides = self.open.pop()
            if not hides and not self.skip:
                self._close(name)
            elif hides:
                self.skip -= 1
        self.flush(self._kind())


def _wrap(text: str, first: str, rest: str, width: int) -> list[str]:
    """`text` wrapped on spaces (never inside a word or URL), each line after the first
    prefixed with `rest`."""
    lines = textwrap.wrap(
        text,
        width=max(width, len(first) + 20),
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return lines or [first.rstrip()]


def _layout(paragraph: _Paragraph, width: int) -> list[str]:
    first, rest = paragraph.first, paragraph.rest
    if paragraph.kind == "pre":
        lines = paragraph.text.strip("\n").split("\n")
        return [(first if i == 0 else rest) + line.rstrip() for i, line in enumerate(lines)]
    out: list[str] = []
    for index, line in enumerate(paragraph.text.split("\n")):
        out += _wrap(line, first if index == 0 else rest, rest, width)
    if paragraph.kind in ("h1", "h2"):
        longest = max(len(line) - len(rest) for line in out)
        out.append(rest + ("=" if paragraph.kind == "h1" else "-") * longest)
    return out


def html_to_text(markup: str, width: int = WIDTH) -> str:
    """Readable plain text for HTML we wrote (see the module's docstring)."""
    reader = _Reader()
    reader.feed(markup or "")
    reader.close()
    out: list[str] = []
    for paragraph in reader.paragraphs:
        if out and not paragraph.tight:
            out.append("")
        out += _layout(paragraph, width)
    return "\n".join(line.rstrip() for line in out).strip("\n")


# A line's lead: quote markers, indentation and a list bullet, kept when the line is wrapped.
_LEAD = re.compile(r"^((?:> ?)*)([ \t]*)((?:[-*•]|\d{1,3}[.)])[ \t]+)?")


def tidy_text(text: str, width: int = WIDTH) -> str:
    """A hand-written text part finished like a converted one: trailing spaces gone, at most
    one blank line in a row, lines longer than `width` wrapped on spaces (URLs stay whole)."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.rstrip()
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if len(line) <= width:
            out.append(line)
            continue
        lead = _LEAD.match(line)
        first = lead.group(0)
        rest = lead.group(1) + lead.group(2) + " " * len(lead.group(3) or "")
        out += _wrap(line[len(first) :], first, rest, width)
    while out and out[-1] == "":
        out.pop()
    while out and out[0] == "":
        out.pop(0)
    return "\n".join(out) + "\n"
