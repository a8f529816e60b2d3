"""The public directory: only approved listings, filters, upcoming events first, the care note."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engage.types import utcnow


def text(response) -> str:
    return response.get_data(as_text=True)


def test_only_approved_groups_are_listed_and_shown(client, make_group):
    listed = make_group(name="Listed Circle")
    pending = make_group(name="Pending Circle", status="pending", approved_at=None)
    rejected = make_group(name="Rejected Circle", status="rejected", approved_at=None)

    page = text(client.get("/groups"))
    assert "Listed Circle" in page
    assert "Pending Circle" not in page and "Rejected Circle" not in page
    assert client.get(f"/groups/{listed.slug}").status_code == 200
    assert client.get(f"/groups/{pending.slug}").status_code == 404
    assert client.get(f"/groups/{rejected.slug}").status_code == 404
    assert client.get("/groups/no-such-group").status_code == 404


def test_only_approved_events_are_public(client, make_event):
    listed = make_event(title="Listed meeting")
    pending = make_event(title="Pending meeting", status="pending", approved_at=None)

    page = text(client.get("/events"))
    assert "Listed meeting" in page and "Pending meeting" not in page
    assert client.get(f"/events/{pending.slug}").status_code == 404
    assert client.get(f"/events/{pending.slug}.ics").status_code == 404
    assert client.get(f"/events/{listed.slug}").status_code == 200


def test_upcoming_events_come_first_and_past_events_are_out_of_lists(client, make_event):
    now = utcnow()
    later = make_event(title="Later meeting", starts_at=now + timedelta(days=20))
    sooner = make_event(title="Sooner meeting", starts_at=now + timedelta(days=2))
    past = make_event(title="Past meeting", starts_at=now - timedelta(days=3))
    running = make_event(title="Running meeting", starts_at=now - timedelta(hours=1))

    page = text(client.get("/events"))
    assert "Past meeting" not in page
    order = [page.index(f"{name} meeting") for name in ("Running", "Sooner", "Later")]
    assert order == sorted(order)
    assert later and sooner and running
    # Its own page still answers, saying it has ended, without a calendar link.
    own = text(client.get(f"/events/{past.slug}"))
    assert "This event has ended" in own and ".ics" not in own


def test_group_page_says_groups_complement_care_and_shows_crisis_resources(app, client, make_group):
    group = make_group(name="Evening Light")
    page = text(client.get(f"/groups/{group.slug}"))
    assert "complement, not replace, professional care" in page
    main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    # In the page itself, not only the footer: numbers to tap (no country asked for: the
    # international entry), then a reader in the UK gets Samaritans.
    assert "findahelpline.com" in main
    uk = text(client.get(f"/groups/{group.slug}", headers={"Accept-Language": "en-GB"}))
    main = uk.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert '<a class="crisis-link" href="tel:116123">Call 116 123</a>' in main


def test_group_page_shows_the_facts_and_the_next_meeting(client, make_group, make_event):
    group = make_group(
        name="After Loss",
        purposes=["bereavement", "child-loss"],
        format="hybrid",
        run_by="professional",
        cost="Free; donations welcome",
        contact="afterloss@example.org",
        next_meeting_at=None,
    )
    event = make_event(group_id=group.id, title="Monthly gathering")
    page = text(client.get(f"/groups/{group.slug}"))
    assert "Bereavement" in page and "Losing a child" in page
    assert "Hybrid" in page and "Run by a professional" in page
    assert 'href="mailto:afterloss@example.org"' in page
    assert "Next meeting" in page
    assert f"/events/{event.slug}" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("purpose=depression", {"Online Depression"}),
        ("format=online", {"Online Depression"}),
        ("region=bristol", {"Bristol Carers"}),  # the city, case-insensitive
        ("region=North+West+England", {"Salford Anxiety"}),
        ("language=Welsh", {"Cardiff Cymraeg"}),
        ("purpose=anxiety&format=in_person", {"Salford Anxiety", "Cardiff Cymraeg"}),
        ("purpose=carers&language=Welsh", set()),
        ("", {"Salford Anxiety", "Online Depression", "Bristol Carers", "Cardiff Cymraeg"}),
        # Unknown values are ignored, never an error.
        ("purpose=not-a-purpose&format=teleport", None),
    ],
)
def test_group_filters(client, make_group, query, expected):
    make_group(name="Salford Anxiety", purposes=["anxiety", "panic"])
    make_group(
        name="Online Depression",
        purposes=["depression"],
        format="online",
        region="Online, UK",
        city="",
    )
    make_group(name="Bristol Carers", purposes=["carers"], region="South West", city="Bristol")
    make_group(name="Cardiff Cymraeg", purposes=["anxiety"], region="Wales", language="Welsh")
    response = client.get(f"/groups?{query}")
    assert response.status_code == 200
    page = text(response)
    names = {"Salford Anxiety", "Online Depression", "Bristol Carers", "Cardiff Cymraeg"}
    shown = {name for name in names if name in page}
    assert shown == (names if expected is None else expected)


def test_event_filters_follow_the_group_and_the_place(client, make_group, make_event):
    anxiety = make_group(purposes=["anxiety"], language="English")
    welsh = make_group(purposes=["carers"], language="Welsh", region="Wales", city="Cardiff")
    make_event(title="Anxiety room meeting", group_id=anxiety.id)
    make_event(
        title="Carers call",
        group_id=welsh.id,
        location="",
        online_url="https://meet.example.org/carers",
    )
    make_event(title="Open day without a group", location="Town Hall, Leeds")

    def shown(query):
        page = text(client.get(f"/events?{query}"))
        return {t for t in ("Anxiety room", "Carers call", "Open day") if t in page}

    assert shown("purpose=anxiety") == {"Anxiety room"}
    assert shown("format=online") == {"Carers call"}
    assert shown("format=in_person") == {"Anxiety room", "Open day"}
    assert shown("language=Welsh") == {"Carers call"}
    assert shown("region=Cardiff") == {"Carers call"}
    assert shown("region=leeds") == {"Open day"}
    assert shown("") == {"Anxiety room", "Carers call", "Open day"}


def test_filter_menus_offer_the_places_and_languages_of_listed_groups(client, make_group):
    make_group(region="Leinster", city="Dublin", language="Irish")
    make_group(region="Secret Region", status="pending", approved_at=None)
    page = text(client.get("/groups"))
    assert '<option value="Dublin"' in page and '<option value="Irish"' in page
    assert "Secret Region" not in page


def test_strange_query_strings_never_fail(client, make_group):
    make_group()
    for query in ("purpose=x", "region=" + "x" * 5000, "language=%FF%FE", "format[]=1"):
        assert client.get(f"/groups?{query}").status_code == 200
        assert client.get(f"/events?{query}").status_code == 200
    # A NUL is refused at the edge for every page (tests/core/test_nul.py).
    assert client.get("/groups?purpose=%00").status_code == 400


def test_nav_links_to_groups_and_events(client):
    page = text(client.get("/groups"))
    assert 'href="/groups">Groups</a>' in page and 'href="/events">Events</a>' in page
