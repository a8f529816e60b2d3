from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage.articles.service import PROSE_TAGS, render_markdown


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict]]:
    collector = _Collect()
    collector.feed(html)
    collector.close()
    return collector.tags


def test_renders_commonmark_prose():
    html = render_markdown("Some *emphasis* and **strength**.\n\n- one\n- two\n\n> quoted")
    assert "<em>emphasis</em>" in html
    assert "<strong>strength</strong>" in html
    assert "<li>one</li>" in html
    assert "<blockquote>" in html


def test_links_get_nofollow_noopener():
    html = render_markdown("[a group](https://example.org/group)")
    assert parsed(html) == [
        ("p", {}),
        ("a", {"href": "https://example.org/group", "rel": "nofollow noopener"}),
    ]


def test_link_rel_can_be_chosen_by_the_caller():
    html = render_markdown("[x](https://example.org)", link_rel="nofollow ugc noopener")
    assert 'rel="nofollow ugc noopener"' in html


def test_headings_start_below_the_page_title():
    assert render_markdown("# Section\n\n## Part").startswith("<h2>Section</h2>\n<h3>Part</h3>")
    assert render_markdown("## Section\n\n### Part").startswith("<h2>Section</h2>\n<h3>Part</h3>")


def test_linkify_is_off():
    assert "<a" not in render_markdown("see https://example.org or www.example.org")


def test_images_become_their_alt_text():
    html = render_markdown("![a calm lake](https://tracker.example.net/pixel.png)")
    assert "<img" not in html
    assert "tracker.example.net" not in html
    assert "a calm lake" in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        "before <script>alert(1)</script> after",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1) )",
        "[click](java\tscript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](vbscript:msgbox(1))",
        "<img src=x onerror=alert(1)>",
        '<a href="https://example.org" onclick="alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        '<div style="background:url(javascript:alert(1))">x</div>',
        '[x](https://example.org "t" onmouseover=alert(1))',
        "![x](x onerror=alert(1))",
        "<<script>script>alert(1)<</script>/script>",
        "`<script>` in code is text",
    ],
)
def test_xss_payloads_are_neutralised(source):
    html = render_markdown(source)
    assert "<script" not in html.lower()
    for tag, attrs in parsed(html):
        assert tag in PROSE_TAGS
        assert not any(name.startswith("on") or name == "style" for name in attrs)
        href = attrs.get("href", "").strip().lower()
        assert not href.startswith(("javascript:", "vbscript:", "data:"))


def test_raw_html_is_shown_as_text():
    html = render_markdown("<b>bold?</b>")
    assert "<b>" not in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html


# Markdown-ish alphabet so the generator often builds links, tags and emphasis.
_pieces = st.sampled_from(
    [
        "<", ">", "/", "script", "SCRIPT", "img", " src=", "onerror=", "javascript:", "[", "]",
        "(", ")", "!", "*", "`", "\n", "\n\n", "# ", "- ", "> ", '"', "'", "&", "a", "https://x.y",
        "<a href=", "<svg onload=", "\t", " ",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=40).map("".join))
def test_output_never_carries_script_or_handlers(source):
    html = render_markdown(source)
    assert "<script" not in html.lower()
    for tag, attrs in parsed(html):
        assert tag in PROSE_TAGS
        assert not any(name.startswith("on") for name in attrs)
        href = (attrs.get("href") or "").strip().lower()
        assert not href.startswith("javascript:")
