"""What every email looks like to its reader: the text part's links and prose, the HTML's
structure (one h1, the masthead, the padded preheader, real buttons), the content's styles."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from engage.mail.render import render_email
from engage.mail.text import WIDTH, html_to_text
from engage.newsletters.blocks import Item, as_markdown, as_mjml
from engage.newsletters.render import render_newsletter
from tests.mail.test_snapshots import BASE, SAMPLES

WEB_URL = f"{BASE}/newsletters/3-autumn-news"
DATED = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
EVENTS = [
    Item(
        "Open evening (all)",
        f"{BASE}/events/open-evening",
        ("Thursday 4 December 2026, 18:30 (GMT)", "Harbour Community Centre"),
    ),
    Item("Walk and talk", "", ("Saturday 6 December 2026, 10:00 (GMT)", "Online")),
]
MARKDOWN = (
    "# Autumn at the groups\n\n"
    "Hello, *readers*! Read [our guide to first meetings](https://news.example.org/guide) "
    "or see https://news.example.org/groups for the directory. Prices: 2 \\* 3 \\(approx\\).\n\n"
    "> Going the first time was the hardest part.\n> It got easier.\n\n"
    "1. Find a group\n2. Write to the organiser\n\n"
    "---\n\n" + as_markdown("Coming up", EVENTS)
)
MJML = (
    "<mj-text><h2>Autumn at the groups</h2><p>Hello, read "
    '<a href="https://news.example.org/guide">our guide</a> &amp; more.</p></mj-text>\n'
    '<mj-button href="https://news.example.org/groups">See the groups</mj-button>\n'
    + as_mjml("Coming up", EVENTS)
)


def newsletter(**values):
    return render_newsletter(
        "Autumn news",
        "Three new groups, and a walk",
        dated=DATED,
        web_url=WEB_URL,
        **values,
    )


def every_kind():
    """(name, rendered) for every email, and for a newsletter written either way."""
    kinds = [(name, render_email(name, sample)) for name, sample in sorted(SAMPLES.items())]
    kinds.append(("newsletter (Markdown)", newsletter(body_markdown=MARKDOWN)))
    kinds.append(("newsletter (MJML)", newsletter(body_mjml=MJML)))
    return kinds


KIND_NAMES = [*sorted(SAMPLES), "newsletter (Markdown)", "newsletter (MJML)"]


@pytest.fixture
def kinds(ctx):
    return dict(every_kind())


class Links(HTMLParser):
    """Each visible link of an HTML email: (its text, its href)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._open: list[tuple[str, list[str]]] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "div" and "display:none" in (attributes.get("style") or "").replace(" ", ""):
            self._hidden += 1
        if tag == "a":
            self._open.append((attributes.get("href") or "", []))
        if tag == "img" and self._open:
            self._open[-1][1].append(attributes.get("alt") or "")

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.links.append((" ".join("".join(text).split()), href))
        if tag == "div" and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)


def links_of(markup: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(markup)
    return parser.links


def flat(text: str) -> str:
    return " ".join(text.split())


# --- the text part -------------------------------------------------------------------------


@pytest.mark.parametrize("name", KIND_NAMES)
def test_the_text_part_keeps_every_link_as_text_then_url(kinds, name):
    rendered = kinds[name]
    links = links_of(rendered.html)
    for label, href in links:
        shown = href.removeprefix("mailto:")
        assert shown in rendered.text, href  # whole: a URL is never broken across lines
        if label and label.rstrip("/") != shown.rstrip("/"):
            assert f"{label} ({shown})" in flat(rendered.text), (label, href)
        else:
            assert f"({shown})" not in rendered.text  # a bare URL is shown once, not twice


@pytest.mark.parametrize("name", KIND_NAMES)
def test_the_text_part_reads_as_clean_prose(kinds, name):
    text = kinds[name].text
    assert "\n\n\n" not in text  # at most one blank line in a row
    assert not re.search(r"\*\*|__|\]\(|^#{1,6} |^\s*\* ", text, re.MULTILINE), "Markdown"
    assert not re.search(r"\\[\\`*_{}\[\]()#+\-.!<>]", text), "a backslash escape"
    assert not re.search(r"&(?:[a-z]+|#\d+|#x[0-9a-f]+);", text, re.IGNORECASE), "an entity"
    assert not re.search("[\u034f\u200b-\u200f\ufeff]", text), "invisible padding"
    for line in text.splitlines():
        # Wrapped on spaces; only a word too long to share a line (a URL) stands out.
        assert len(line) <= WIDTH or len(line.split()) <= 2, line


def test_a_markdown_newsletter_reads_as_plain_text(ctx):
    text = newsletter(body_markdown=MARKDOWN).text
    assert f"Autumn news\n===========\n2 December 2026\nView in browser ({WEB_URL})\n\n" in text
    assert "Autumn at the groups\n--------------------" in text  # "#" moved down to an h2
    assert "Hello, readers! Read our guide to first meetings\n(https://news.example.org/guide)" in (
        text
    )
    assert "or see https://news.example.org/groups for the directory" in flat(text)
    assert "Prices: 2 * 3 (approx)." in flat(text)
    assert "> Going the first time was the hardest part. It got easier." in text
    assert "1. Find a group\n2. Write to the organiser" in text
    # The events block: title, date and place each on a line of their own.
    assert (
        "- Open evening (all) (https://news.example.org/events/open-evening)\n"
        "  Thursday 4 December 2026, 18:30 (GMT)\n"
        "  Harbour Community Centre\n"
        "- Walk and talk\n"
        "  Saturday 6 December 2026, 10:00 (GMT)\n"
        "  Online"
    ) in text


def test_an_mjml_newsletter_keeps_its_links_and_buttons_in_the_text(ctx):
    text = newsletter(body_mjml=MJML).text
    assert "Hello, read our guide (https://news.example.org/guide) & more." in text
    assert "See the groups (https://news.example.org/groups)" in text
    assert "- Open evening (all) (https://news.example.org/events/open-evening)\n" in text


def test_the_converter_lays_out_blocks_the_plain_text_way():
    text = html_to_text(
        "<h1>Title</h1><p>One<br>two &amp; <b>three</b></p><ul><li>a<ul><li>b</li></ul></li>"
        '</ul><blockquote><p>quoted</p></blockquote><p><a href="mailto:hi@example.org">'
        'hi@example.org</a> <a href="#top">top</a></p><div style="display: none">hidden</div>'
        "<pre>  kept\n  as is</pre>"
    )
    assert text == (
        "Title\n=====\n\nOne\ntwo & three\n\n- a\n  - b\n\n> quoted\n\nhi@example.org top\n\n"
        "  kept\n  as is"
    )


# --- the HTML ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_email_has_exactly_one_h1(kinds, name):
    assert len(re.findall(r"<h1\b", kinds[name].html)) == 1


@pytest.mark.parametrize("name", KIND_NAMES)
def test_the_preheader_is_padded_so_previews_stop_after_it(kinds, name):
    markup = kinds[name].html
    hidden = re.search(r'<div style="display:none;[^"]*">(.*?)</div>', markup, re.DOTALL)
    assert hidden, "no preheader"
    padding = re.sub(r"&#847;|&zwnj;|&nbsp;|[\u034f\u200c\u00a0]", "", hidden.group(1))
    assert len(hidden.group(1)) - len(padding) > 100  # a long run of invisible characters
    assert padding.strip()  # …after the preview text itself


def test_the_newsletter_has_a_masthead(ctx):
    markup = newsletter(body_markdown=MARKDOWN).html
    assert re.search(r"<h1[^>]*>Autumn news</h1>", markup)
    assert "2 December 2026" in markup
    assert ("View in browser", WEB_URL) in links_of(markup)
    assert markup.index("<h1") < markup.index("View in browser") < markup.index("Hello,")


def test_the_public_copy_has_no_view_in_browser_link(ctx):
    markup = render_newsletter("Autumn news", body_markdown="Hi", personal_links=False).html
    assert "View in browser" not in markup
    assert re.search(r"<h1[^>]*>Autumn news</h1>", markup)


def test_markdown_content_is_styled_inline(ctx):
    markup = newsletter(body_markdown=MARKDOWN).html
    link = re.search(r'<a href="https://news.example.org/guide"[^>]*style="([^"]*)"', markup)
    assert link and "color: #2f5d62" in link.group(1) and "underline" in link.group(1)
    assert re.search(r'<h2 style="[^"]*font-size: 22px', markup)
    assert re.search(r'<blockquote style="[^"]*border-left: 4px solid #2f5d62', markup)
    assert re.search(r'<li style="[^"]*margin: 0 0 8px', markup)
    assert re.search(r'<ol style="[^"]*padding: 0 0 0 24px', markup)
    assert "<style" not in markup.split("<body", 1)[1]  # inlined, not a style sheet


def test_mjml_content_is_styled_inline_too_without_overriding_its_own_styles(ctx):
    markup = newsletter(body_mjml=MJML).html
    link = re.search(r'<a href="https://news.example.org/guide"[^>]*style="([^"]*)"', markup)
    assert link and "color: #2f5d62" in link.group(1)
    assert re.search(r'<h2 style="[^"]*font-size: 22px', markup)
    button = re.search(r'<a href="https://news.example.org/groups"[^>]*style="([^"]*)"', markup)
    assert button and "color:#ffffff" in button.group(1).replace(" ", "")  # mj-button's own


def test_the_events_block_keeps_title_date_and_place_apart_in_the_html(ctx):
    for markup in (
        newsletter(body_markdown=MARKDOWN).html,
        newsletter(body_mjml=MJML).html,
    ):
        assert re.search(
            r"Open evening \(all\)</a>\s*<br\s*/?>\s*Thursday 4 December 2026, 18:30 "
            r"\(GMT\)\s*<br\s*/?>\s*Harbour Community Centre",
            markup,
        )


def test_nothing_remote_and_no_web_fonts(kinds):
    for name, rendered in kinds.items():
        assert "fonts.googleapis" not in rendered.html, name
        assert not re.search(r'src="https?://', rendered.html), name
        assert "<link" not in rendered.html, name


def test_the_digest_footer_says_it_stops_the_digest(kinds):
    digest = kinds["digest"]
    assert ("Stop this digest", "%%UNSUBSCRIBE_URL%%") in links_of(digest.html)
    assert "Stop this digest (%%UNSUBSCRIBE_URL%%)" in digest.text
    assert "Unsubscribe" not in digest.html and "Unsubscribe" not in digest.text


def test_the_digest_has_a_dated_masthead(ctx):
    rendered = render_email("digest", SAMPLES["digest"])
    assert re.search(r"<h1[^>]*>Your weekly digest</h1>", rendered.html)
    assert "1 December 2026" in rendered.html
    assert ("View in browser", f"{BASE}/digests/view/TOKEN") in links_of(rendered.html)
    assert (
        "Your weekly digest\n==================\n1 December 2026\n"
        f"View in browser ({BASE}/digests/view/TOKEN)\n\n"
    ) in rendered.text


def _button_height(markup: str, href: str) -> float:
    """The height of the mj-button linking to `href`: line height plus vertical padding."""
    match = re.search(rf'<a href="{re.escape(href)}"[^>]*style="([^"]*)"', markup)
    assert match, f"no link to {href}"
    style = dict(
        (part.split(":", 1)[0].strip(), part.split(":", 1)[1].strip())
        for part in match.group(1).split(";")
        if ":" in part
    )
    assert style["display"] == "inline-block", "not a button"
    font = float(style["font-size"].removesuffix("px"))
    line = float(style["line-height"].removesuffix("%")) / 100 * font
    top, *rest = [float(v.removesuffix("px")) for v in style["padding"].split()]
    bottom = rest[1] if len(rest) >= 2 else top
    return line + top + bottom


@pytest.mark.parametrize("name", ["comment_moderation", "comment_moderation_digest"])
def test_moderator_actions_are_buttons_a_thumb_can_hit(kinds, name):
    markup = kinds[name].html
    sample = SAMPLES[name]
    items = sample.get("items") or [sample]
    hrefs = [url for item in items for url in (item["approve_url"], item["reject_url"])]
    for href in [*hrefs, sample["queue_url"]]:
        assert _button_height(markup, href.replace("&", "&amp;")) >= 44, href
    labels = [label for label, _ in links_of(markup)]
    assert labels.count("Approve") == labels.count("Reject") == len(items)
    assert "Open the queue" in labels
