"""The public archive: web versions without personal links, the list, and the Atom feed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from engage.newsletters.public import slugify
from engage.types import utcnow

ATOM = "{http://www.w3.org/2005/Atom}"


def test_slugify():
    assert slugify("Our news, in brief!") == "our-news-in-brief"
    assert slugify("Café & crème") == "cafe-creme"
    assert slugify("!!!") == "newsletter"
    assert len(slugify("word " * 50)) <= 80


def test_the_web_version_has_no_personal_links(client, make_newsletter):
    newsletter = make_newsletter(
        subject="Autumn news", status="sent", finished_at=utcnow(), body_markdown="Hello **all**."
    )
    response = client.get(f"/newsletters/{newsletter.id}-autumn-news")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<strong>all</strong>" in page
    assert "/u/" not in page
    assert "/preferences/" not in page
    assert "%%" not in page
    assert "Unsubscribe" not in page
    assert 'href="/newsletters"' in page  # the way back to the archive
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_the_web_version_redirects_to_its_canonical_slug(client, make_newsletter):
    newsletter = make_newsletter(subject="Autumn news", status="sent", finished_at=utcnow())
    response = client.get(f"/newsletters/{newsletter.id}-old-title")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"/newsletters/{newsletter.id}-autumn-news")


def test_only_newsletters_that_went_out_are_public(client, make_newsletter):
    for status in ("draft", "scheduled", "cancelled", "missed"):
        newsletter = make_newsletter(subject="Secret", status=status)
        assert client.get(f"/newsletters/{newsletter.id}-secret").status_code == 404, status
    assert client.get("/newsletters/999-secret").status_code == 404
    # Once the first message has left, its "View in browser" link must open, even while the
    # rest are still sending or the send is paused.
    for status in ("sending", "paused", "sent"):
        newsletter = make_newsletter(subject="Out", status=status)
        assert client.get(f"/newsletters/{newsletter.id}-out").status_code == 200, status


def test_the_list_page(client, make_newsletter):
    make_newsletter(subject="Sent one", status="sent", finished_at=utcnow())
    make_newsletter(subject="Draft one")
    page = client.get("/newsletters").get_data(as_text=True)
    assert "Sent one" in page
    assert "Draft one" not in page
    assert 'type="application/atom+xml"' in page


def test_the_feed_is_valid_atom_and_lists_only_sent_newsletters(client, make_newsletter):
    older = make_newsletter(
        subject="Summer <news> & more",
        preheader="Sun",
        status="sent",
        finished_at=utcnow() - timedelta(days=30),
    )
    newer = make_newsletter(subject="Autumn news", status="sent", finished_at=utcnow())
    make_newsletter(subject="Not yet", status="scheduled", scheduled_at=utcnow() + timedelta(1))
    make_newsletter(subject="Stopped", status="cancelled")
    response = client.get("/newsletters/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)  # noqa: S314 (our own feed, not untrusted input)
    assert feed.tag == f"{ATOM}feed"
    for child in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{child}") is not None, child
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"] == "http://engage.test/newsletters/feed.atom"
    assert links["alternate"] == "http://engage.test/newsletters"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Autumn news",
        "Summer <news> & more",
    ]
    first = entries[0]
    url = f"http://engage.test/newsletters/{newer.id}-autumn-news"
    assert first.findtext(f"{ATOM}id") == url
    assert first.find(f"{ATOM}link").get("href") == url
    assert first.findtext(f"{ATOM}updated").endswith("+00:00")
    assert entries[1].findtext(f"{ATOM}summary") == "Sun"
    assert entries[1].findtext(f"{ATOM}id").endswith(f"/newsletters/{older.id}-summer-news-more")
    content = first.findtext(f"{ATOM}content")
    assert "/u/" not in content and "/preferences/" not in content
    assert feed.findtext(f"{ATOM}updated") == first.findtext(f"{ATOM}updated")


def test_an_empty_feed_is_still_valid(client, db):
    feed = ET.fromstring(client.get("/newsletters/feed.atom").data)  # noqa: S314 (our feed)
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated")


HOSTILE_MJML = (
    "<mj-text>Hello readers.\n"
    '<script>document.title = "owned"</script>\n'
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">\n'
    '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="dot" onload="alert(1)">\n'
    '<a href="javascript:alert(2)">click</a> <a href="https://example.org/ok">fine</a>\n'
    "</mj-text>\n"
    '<mj-raw><iframe src="https://evil.example/"></iframe><form action="https://evil.example/">'
    '<input name="q" /></form><object data="https://evil.example/x"></object></mj-raw>\n'
)


def test_an_editors_script_refresh_and_handlers_never_reach_the_web_version(
    client, make_newsletter
):
    # Saved before bodies were checked, or past the check: what is served is cleaned anyway.
    newsletter = make_newsletter(
        subject="Hostile", status="sent", finished_at=utcnow(), body_markdown=None,
        body_mjml=HOSTILE_MJML,
    )  # fmt: skip
    response = client.get(f"/newsletters/{newsletter.id}-hostile")
    assert response.status_code == 200
    page = response.get_data(as_text=True).lower()
    assert "hello readers." in page and 'href="https://example.org/ok"' in page
    assert 'alt="dot"' in page  # the image from a data: URI stays
    for absent in ("<script", "owned", "http-equiv=\"refresh", "evil.example", "onload",
                   "javascript:", "<iframe", "<form", "<input", "<object"):  # fmt: skip
        assert absent not in page, absent
    csp = response.headers["Content-Security-Policy"]
    directives = [directive.split()[0] for directive in csp.split(";") if directive.strip()]
    assert "sandbox" in directives
    assert "allow-scripts" not in csp and "allow-same-origin" not in csp
    assert "default-src 'none'" in csp


def test_a_remote_image_saved_before_the_check_is_not_served(client, make_newsletter):
    body = (
        '<mj-image src="https://tracker.example/pixel.gif" />\n'
        '<mj-text><span style="color:red;background:url(https://tracker.example/b.png)">x'
        "</span></mj-text>\n"
        '<mj-image src="http://engage.test/static/logo.png" alt="ours" />\n'
    )
    newsletter = make_newsletter(
        subject="Pixel", status="sent", finished_at=utcnow(), body_markdown=None, body_mjml=body
    )
    page = client.get(f"/newsletters/{newsletter.id}-pixel").get_data(as_text=True)
    assert "tracker.example" not in page
    assert "color:red" in page
    assert 'src="http://engage.test/static/logo.png"' in page
