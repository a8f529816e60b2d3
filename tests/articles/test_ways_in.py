"""Ways in: the archive and the directory are one click from every page and from the home
page, every group and event teaser opens its own page, and /favicon.ico is a real icon."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.community.conftest import build_event, build_group


class Links(HTMLParser):
    """The links of a page as (href, text, the nearest landmark or list they sit in)."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self._open: list[str] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("nav", "aside", "main", "footer", "header"):
            self._open.append(tag)
        if tag == "a":
            self._href, self._text = attrs.get("href"), ""

    def handle_endtag(self, tag):
        if tag in ("nav", "aside", "main", "footer", "header") and self._open:
            self._open.pop()
        if tag == "a" and self._href is not None:
            where = self._open[-1] if self._open else ""
            self.links.append((self._href, " ".join(self._text.split()), where))
            self._href = None

    def handle_data(self, data):
        if self._href is not None:
            self._text += data


def links_of(client, path: str) -> list[tuple[str, str, str]]:
    parser = Links()
    parser.feed(client.get(path).get_data(as_text=True))
    return parser.links


def test_the_navigation_leads_to_the_archive_and_the_directory(client, db):
    nav = {(href, text) for href, text, where in links_of(client, "/") if where == "nav"}
    assert {("/newsletters", "Newsletters"), ("/groups", "Groups"), ("/events", "Events")} <= nav
    # The same header on every public page, the archive included.
    for path in ("/groups", "/newsletters", "/privacy"):
        assert ("/newsletters", "Newsletters", "nav") in links_of(client, path)


def test_every_teaser_on_the_home_page_links_to_its_page(client, db):
    group = build_group(db.session, slug="harbour-lights", name="Harbour Lights")
    event = build_event(db.session, slug="open-evening", title="Open evening", group_id=group.id)
    db.session.commit()
    aside = [(href, text) for href, text, where in links_of(client, "/") if where == "aside"]
    assert ("/groups/harbour-lights", "Harbour Lights") in aside
    assert ("/events/open-evening", "Open evening") in aside
    assert ("/groups", "See all groups") in aside
    assert ("/events", "See all events") in aside
    main = {href for href, _, where in links_of(client, "/") if where == "main"}
    assert {"/newsletters", "/groups", "/events"} <= main
    assert client.get(f"/events/{event.slug}").status_code == 200
    assert client.get(f"/groups/{group.slug}").status_code == 200


def test_the_favicon_is_served_from_our_own_files(client, db):
    with client.get("/favicon.ico") as response:  # a file response: closed when read
        assert response.status_code == 200
        assert response.mimetype == "image/x-icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert b"http" not in svg.data.replace(b"http://www.w3.org/2000/svg", b"")
