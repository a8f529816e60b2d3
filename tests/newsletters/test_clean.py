"""engage.newsletters.clean: what an email's HTML may hold, on a real mjml-compiled document."""

from __future__ import annotations

from mjml import mjml2html

from engage.newsletters.clean import clean_newsletter_html

BASE = "https://news.example.org"


def compiled(body: str) -> str:
    return mjml2html(f"<mjml><mj-body><mj-section><mj-column>{body}</mj-column></mj-section>"
                     "</mj-body></mjml>", fonts={})  # fmt: skip


def test_outlook_comments_head_styles_and_placeholders_survive():
    source = compiled('<mj-text><a href="%%UNSUBSCRIBE_URL%%">Unsubscribe</a></mj-text>')
    clean = clean_newsletter_html(source, BASE)
    assert clean.startswith("<!doctype html><html lang=")
    assert clean.count("<!--[if mso | IE]>") == source.count("<!--[if mso | IE]>") > 0
    assert "<o:OfficeDocumentSettings>" in clean
    assert "@media only screen and (min-width:480px)" in clean
    assert 'http-equiv="Content-Type"' in clean
    assert 'href="%%UNSUBSCRIBE_URL%%"' in clean


def test_what_runs_or_loads_is_removed():
    source = compiled(
        '<mj-text><script>x()</script><svg onload="x()"></svg>'
        '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
        '<img src="https://tracker.example/p.gif" onerror="x()" alt="pixel">'
        '<a href="javascript:x()">j</a><a href="data:text/html,x">d</a>'
        "<p style=\"color:red;background-image:url('https://tracker.example/b;g.png')\">p</p>"
        "</mj-text>"
        '<mj-raw><base href="https://evil.example/" /><link rel="stylesheet" '
        'href="https://evil.example/s.css" /><style>@import "https://evil.example/i.css";</style>'
        '<!--[if mso]><img src="https://tracker.example/o.gif"><![endif]--></mj-raw>'
    )
    clean = clean_newsletter_html(source, BASE).lower()
    absent_all = ("<script", "<svg", "onload", "onerror", "refresh", "tracker.example")
    absent_all += ("evil.example", "javascript:", "data:text", "<base", "<link", "@import")
    for absent in absent_all:
        assert absent not in clean, absent
    assert 'alt="pixel"' in clean  # the image element stays, without its remote source
    assert "color:red" in clean


def test_css_escapes_are_read_as_a_browser_reads_them():
    document = (
        '<!doctype html><html lang="en"><head><title>t</title></head>'
        '<body style="background:u\\72l(https://tracker.example/body.png);margin:0">'
        '<p style="background:u\\72l(https://tracker.example/c.png);margin:0">q</p>'
        "</body></html>"
    )
    clean = clean_newsletter_html(document, BASE)
    assert "tracker.example" not in clean
    assert clean.count('style="margin:0"') == 2


def test_own_images_and_data_uris_stay():
    source = compiled(
        '<mj-image src="https://news.example.org/static/logo.png" alt="ours" />'
        '<mj-image src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="inline" />'
    )
    clean = clean_newsletter_html(source, BASE)
    assert 'src="https://news.example.org/static/logo.png"' in clean
    assert 'src="data:image/gif;base64,R0lGODlhAQABAAAAACw="' in clean


def test_something_that_is_not_a_document_is_still_cleaned():
    clean = clean_newsletter_html("<p>hi</p><script>x()</script>", BASE)
    assert clean == "<!doctype html><html><head></head><body><p>hi</p></body></html>"
