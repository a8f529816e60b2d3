"""engage.newsletters.validate: each problem in a body, with the line the editor sees."""

from __future__ import annotations

import pytest

from engage.newsletters.validate import check_body, check_markdown, check_mjml, source_line


def errors(body: str) -> list[tuple[int | None, str]]:
    return [(issue.line, issue.message) for issue in check_mjml(body) if issue.is_error]


def test_valid_mjml_has_no_issues():
    body = (
        "<mj-text>\n  <h2>Hello</h2>\n  <p>Fish &amp; chips<br>today.</p>\n</mj-text>\n"
        '<mj-button href="https://example.org">Read</mj-button>\n'
        '<mj-image src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" />\n<mj-spacer/>\n'
    )
    assert check_mjml(body) == []


def test_an_unclosed_tag_is_reported_on_the_line_it_opens():
    body = "<mj-text>\n  <p>first\n  <p>second</p>\n</mj-text>\n"
    found = errors(body)
    assert found[0][0] == 2
    assert "<p> opened on line 2 is not closed before </mj-text>" in found[0][1]


def test_an_mjml_tag_never_closed_is_reported_with_a_hint():
    body = '<mj-text>Hi</mj-text>\n\n<mj-image src="https://example.org/a.png">\n'
    [(line, message)] = errors(body)
    assert line == 3
    assert "never closed" in message
    assert "<mj-image … />" in message


def test_an_unknown_mj_tag_is_an_error_with_a_suggestion():
    # mjml-python passes it through silently: the text would vanish from the email.
    body = "<mj-text>One</mj-text>\n<mj-txt>Two</mj-txt>\n"
    [(line, message)] = errors(body)
    assert line == 2
    assert "<mj-txt> is not an MJML tag" in message
    assert "Did you mean <mj-text>?" in message


def test_layout_tags_are_refused_in_the_body():
    [(line, message)] = errors("<mj-text>a</mj-text>\n<mj-section></mj-section>")
    assert line == 2
    assert "cannot be used in a newsletter body" in message


def test_a_stray_closing_tag_is_reported():
    [(line, message)] = errors("<mj-text>a</mj-text>\n</mj-column>")
    assert line == 2
    assert "</mj-column> closes a tag that is not open" in message


def test_a_bare_less_than_sign_is_reported_on_its_line():
    [(line, message)] = errors("<mj-text>\nok\n1 < 2\n</mj-text>")
    assert line == 3
    assert "&lt;" in message


@pytest.mark.parametrize("body", ["", "   \n"])
def test_an_empty_mjml_body_is_an_error(body):
    [issue] = check_body(body, "mjml")
    assert issue.is_error


def test_markdown_notes_what_does_not_reach_the_email_as_warnings():
    body = (
        "# Hello\n\n![A photo](https://example.org/p.png)\n\n<b>bold</b>\n\n<mj-text>x</mj-text>\n"
    )
    issues = check_markdown(body)
    assert [(i.line, i.severity) for i in issues] == [
        (3, "warning"),
        (5, "warning"),
        (7, "warning"),
    ]
    assert "Images are left out" in issues[0].message
    assert "HTML in a Markdown body" in issues[1].message
    assert "Choose “MJML”" in issues[2].message


def test_plain_markdown_has_no_issues():
    assert check_body("Hello **there**.\n\n- [a link](https://example.org)\n", "markdown") == []


def test_source_line():
    assert source_line("a\nb\nc", 2) == "b"
    assert source_line("a", 5) == ""
    assert source_line("a", None) == ""


BASE = "https://news.example.org"


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ('<mj-text>a</mj-text>\n<mj-image src="https://tracker.example/p.gif" />', 2),
        ('<mj-text>\n<img src="//tracker.example/p.gif"></mj-text>', 2),
        ('<mj-text><img src="/\\tracker.example/p.gif"></mj-text>', 1),  # a browser's //
        ('<mj-text><img srcset="https://tracker.example/p.gif 2x"></mj-text>', 1),
        ('<mj-text><p style="background:u\\72l(https://tracker.example/b.png)">x</p></mj-text>', 1),
        ('<mj-text><p style="background:url(https://tracker.example/a;b.png)">x</p></mj-text>', 1),
        ('<mj-raw><style>p{background:url("https://tracker.example/s.png")}</style></mj-raw>', 1),
        ('<mj-text><div background="http://tracker.example/b.png">x</div></mj-text>', 1),
        ('<mj-image src="https://news.example.org.tracker.example/p.gif" />', 1),
        ('<mj-image src="http://news.example.org/p.gif" />', 1),  # not BASE_URL's scheme
        (
            '<mj-raw>\n<!--[if mso]><img src="https://tracker.example/o.gif"><![endif]--></mj-raw>',
            2,
        ),
    ],
)
def test_remote_images_are_errors_on_their_line(body, line):
    issues = [issue for issue in check_mjml(body, BASE) if issue.is_error]
    assert issues, body
    assert issues[0].line == line
    assert issues[0].message.startswith("Remote images are not allowed")
    assert f"under {BASE}" in issues[0].message


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (
            '<mj-social><mj-social-element name="facebook" href="https://example.org">F'
            "</mj-social-element></mj-social>",
            "default icon of <mj-social-element>",
        ),
        (
            "<mj-accordion><mj-accordion-element><mj-accordion-title>T</mj-accordion-title>"
            "<mj-accordion-text>x</mj-accordion-text></mj-accordion-element></mj-accordion>",
            "default icon of <mj-accordion>",
        ),
    ],
)
def test_remote_default_icons_are_errors_with_a_hint(body, hint):
    issues = check_mjml(body, BASE)
    assert issues and all(issue.is_error for issue in issues)
    assert hint in issues[0].message


def test_own_and_inline_images_and_remote_links_are_fine():
    body = (
        '<mj-image src="https://news.example.org/static/logo.png" alt="" />\n'
        '<mj-image src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" />\n'
        '<mj-image src="/static/logo.png" alt="" />\n'
        '<mj-button href="https://elsewhere.example/">Read</mj-button>\n'
    )
    assert check_mjml(body, BASE) == []
