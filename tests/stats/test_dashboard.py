"""The staff dashboard as staff get it: the counts, what waits, the charts and their tables."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from engage.accounts.service import create_user
from engage.stats import rollup
from engage.types import utcnow
from tests.conftest import csrf_token
from tests.stats import history

PASSWORD = "a long enough password"


def sign_in(client, email: str) -> None:
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")},
    )
    assert response.status_code == 302


@pytest.fixture
def desk(ctx, db):
    """Four days of readers (backfilled), waiting work and one send."""
    now = utcnow()
    expected = history.build(db.session, now.date())
    history.waiting_work(db.session, now)
    history.one_send(db.session, history.at(now.date() - timedelta(2), 6))
    rollup.rebuild(db.session, now=now)
    create_user(db.session, "editor@example.org", PASSWORD, "editor")
    create_user(db.session, "mod@example.org", PASSWORD, "moderator")
    db.session.commit()
    return expected


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class Tables(HTMLParser):
    """Each <table>'s rows as lists of cell text, by the table's id."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = self.tables.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th") and self.current is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.current[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_editors_see_the_counts_and_what_waits(client, desk):
    sign_in(client, "editor@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    words = text_of(page)
    assert "Confirmed 4" in words
    assert "Waiting to confirm 1" in words
    assert "Unsubscribed 2" in words
    # The last 30 days: ann, dan, ben, fay, gil confirmed; dan and eve left; 3 bounces.
    assert "Confirmations 5" in words
    assert "Unsubscribes 2" in words
    assert "Bounces 3 1 hard, 2 soft" in words
    assert "Spam complaints 1" in words
    # What waits, each linking to its queue; the old links stay.
    assert "1 reply to moderate" in words
    assert "1 held for care" in words
    assert "1 group and events to review" in words
    assert "1 email that could not be sent" in words
    for link in ("/admin/newsletters/", "/admin/comments/", "/admin/mail/failed"):
        assert f'href="{link}' in page
    # The latest send and its outcomes.
    parser = Tables()
    parser.feed(page)
    rows = parser.tables["dash-sends-table"]
    assert rows[0][2:] == [
        "Recipients",
        "Delivered",
        "Deferred",
        "Bounced",
        "Complaints",
        "Unsubscribed within 7 days",
    ]
    assert rows[1][0] == "Autumn letter"
    assert rows[1][2:] == ["5", "3", "1", "1", "0", "1"]


def test_moderators_see_their_queue_and_no_audience_figures(client, desk):
    sign_in(client, "mod@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    words = text_of(page)
    assert "1 reply to moderate" in words and "1 held for care" in words
    assert "Confirmed" not in words and "could not be sent" not in words
    assert "<svg" not in page


def test_the_charts_are_inline_svg_with_no_script_and_no_external_address(client, desk):
    sign_in(client, "editor@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        assert "<script" not in svg.lower()
        addresses = set(re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>)]*", svg, re.I))
        assert addresses == {"http://www.w3.org/2000/svg"}
        assert re.match(r'<svg[^>]*role="img"', svg)
        labelled = re.search(r'aria-labelledby="([^"]+)"', svg).group(1).split()
        for ident in labelled:
            assert re.search(rf'<(title|desc) id="{ident}">[^<]+</\1>', svg)
    assert "<script" not in page.lower()


def test_the_growth_table_holds_the_series_the_chart_draws(client, desk, db):
    sign_in(client, "editor@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    parser = Tables()
    parser.feed(page)
    rows = parser.tables["dash-growth-table"][1:]
    assert len(rows) == 90
    by_day = {row[0]: row[1:] for row in rows}
    today = utcnow().date()
    for back, numbers in ((0, desk[today]), (1, desk[today - timedelta(1)])):
        day = today - timedelta(back)
        previous = desk.get(day - timedelta(1), {"confirmed_total": 0})
        growth = numbers["confirmed_total"] - previous["confirmed_total"]
        bounces = numbers["bounces_hard"] + numbers["bounces_soft"]
        assert by_day[day.strftime("%-d %b %Y").lstrip("0")] == [
            f"{growth:+,}",
            str(numbers["signups"]),
            str(numbers["confirmations"]),
            str(numbers["unsubscribes"]),
            str(bounces),
            str(numbers["confirmed_total"]),
        ]
    # The chart draws the same values, in the same order (oldest first).
    growth_svg = re.findall(r"<svg.*?</svg>", page, re.S)[0]
    drawn = [int(v) for v in re.findall(r'<desc class="value">([-+0-9,]+)</desc>', growth_svg)]
    assert drawn == [int(row[1].replace(",", "")) for row in reversed(rows)]


def test_days_before_the_first_rollup_are_not_drawn_as_growth(client, ctx, db):
    """Installed today on a list of readers: no spike of the whole audience on one day."""
    now = utcnow()
    history.build(db.session, now.date())
    rollup.rollup(db.session, now=now)  # beat's first run: today and yesterday only
    create_user(db.session, "editor@example.org", PASSWORD, "editor")
    db.session.commit()

    sign_in(client, "editor@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    parser = Tables()
    parser.feed(page)
    growth = [row[1] for row in parser.tables["dash-growth-table"][1:]]
    # Newest first: today (4 confirmed, 2 at the end of yesterday), yesterday (no day before).
    assert growth[:3] == ["+2", "+0", "+0"]
    assert "No figures yet for the 88 days" in text_of(page)
    assert "flask --app engage stats rebuild" in page
