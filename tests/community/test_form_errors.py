"""The organiser's forms, server side: every error in a summary linking to its field, no field
called optional when one of two is needed; the directory's counts in good English."""

from __future__ import annotations

from tests.conftest import csrf_token
from tests.support.forms import duplicates, read


def test_every_error_is_listed_and_each_link_leads_to_a_field(client, db):
    response = client.post(
        "/groups/submit",
        data={"csrf_token": csrf_token(client, "/groups/submit"), "name": "Tuesday circle"},
    )
    assert response.status_code == 400
    page = read(response.get_data(as_text=True))
    hrefs = [href for href, _ in page.summary_links]
    assert {"#purposes-anxiety", "#format-in_person", "#region", "#run_by-peer"} <= set(hrefs)
    assert {"#contact", "#organiser_email"} <= set(hrefs)
    for href in hrefs:
        assert href[1:] in page.by_id, href
    assert page.by_id["region"]["aria-invalid"] == "true"
    assert page.by_id["name"]["value"] == "Tuesday circle"
    # The summary opens the form, right under the page's heading: the answer opens at it.
    html = response.get_data(as_text=True)
    assert html.index("<h1>") < html.index('id="group-form-errors"') < html.index('id="name"')
    assert duplicates(page) == {}


def test_region_and_city_are_not_called_optional_when_one_is_needed(client, db):
    html = client.get("/groups/submit").get_data(as_text=True)
    for name in ("region", "city"):
        label = html[html.index(f'<label for="{name}">') :]
        assert "(optional)" not in label[: label.index("</label>")]
    assert "Give a region, a city or town, or both." in html
    events = client.get("/events/submit").get_data(as_text=True)
    assert "Give a place, an online link, or both." in events


def test_counts_agree_with_their_number(client, make_group):
    make_group(name="Only circle", format="online")
    one = client.get("/groups?format=online").get_data(as_text=True)
    assert "1 group matches your choice." in one
    none = client.get("/groups?format=in_person").get_data(as_text=True)
    assert "0 groups match your choice." in none
