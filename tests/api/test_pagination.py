"""`?page=&per_page=` and the page envelope, on GET /api/v1/articles."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.api import MAX_PER_PAGE
from tests.api.test_auth import assert_error

URL = "/api/v1/articles"


@pytest.fixture
def articles(make_article):
    return [make_article() for _ in range(7)]


def test_an_empty_list_has_no_pages(client, auth):
    assert client.get(URL, headers=auth()).get_json() == {
        "items": [],
        "page": 1,
        "per_page": 50,
        "total": 0,
        "pages": 0,
        "next": None,
    }


def test_defaults_are_page_1_of_50(client, auth, articles):
    body = client.get(URL, headers=auth()).get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 50, 7, 1)
    assert len(body["items"]) == 7
    assert body["next"] is None


def test_next_links_walk_every_item_once(client, auth, articles):
    headers = auth()
    seen, url, pages = [], f"{URL}?per_page=3", 0
    while url:
        body = client.get(url, headers=headers).get_json()
        pages += 1
        assert body["pages"] == 3 and body["total"] == 7
        seen += [item["id"] for item in body["items"]]
        url = body["next"]
        if url:
            parts = urlsplit(url)
            assert f"{parts.scheme}://{parts.netloc}" == "http://engage.test"
            assert parse_qs(parts.query)["per_page"] == ["3"]
            url = f"{parts.path}?{parts.query}"
    assert pages == 3
    assert sorted(seen) == sorted(article.id for article in articles)
    assert len(seen) == len(set(seen))


def test_next_keeps_the_other_parameters(client, auth, articles):
    body = client.get(f"{URL}?q=a&q=b%20c&page=1&per_page=2", headers=auth()).get_json()
    query = parse_qs(urlsplit(body["next"]).query)
    assert query == {"q": ["a", "b c"], "per_page": ["2"], "page": ["2"]}


def test_the_last_page_is_partial_and_past_it_is_empty(client, auth, articles):
    headers = auth()
    last = client.get(f"{URL}?per_page=5&page=2", headers=headers).get_json()
    assert len(last["items"]) == 2 and last["next"] is None
    past = client.get(f"{URL}?per_page=5&page=9", headers=headers).get_json()
    assert past["items"] == [] and past["next"] is None and past["total"] == 7


def test_per_page_accepts_the_cap(client, auth, articles):
    body = client.get(f"{URL}?per_page={MAX_PER_PAGE}", headers=auth()).get_json()
    assert body["per_page"] == MAX_PER_PAGE


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"per_page={MAX_PER_PAGE + 1}", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=-5", "per_page"),
        ("per_page=ten", "per_page"),
        ("per_page=", "per_page"),
        ("per_page=2.5", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=two", "page"),
        ("page=99999999999999999999999", "page"),
    ],
)
def test_bad_paging_values_are_422(client, auth, query, field):
    error = assert_error(client.get(f"{URL}?{query}", headers=auth()), 422, "validation_error")
    assert list(error["fields"]) == [field]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    page=st.one_of(st.integers(-3, 12), st.text(max_size=6)),
    per_page=st.one_of(st.integers(-3, MAX_PER_PAGE + 3), st.text(max_size=6)),
)
def test_paging_property(client, make_key, make_article, page, per_page):
    """Every (page, per_page) is either a consistent page or a 422 naming the bad parameter."""
    headers = {"Authorization": f"Bearer {make_key()}"}
    total = 7
    while len(client.get(URL, headers=headers).get_json()["items"]) < total:
        make_article()
    response = client.get(URL, headers=headers, query_string={"page": page, "per_page": per_page})
    valid_page = isinstance(page, int) and page >= 1
    valid_per_page = isinstance(per_page, int) and 1 <= per_page <= MAX_PER_PAGE
    if valid_page and valid_per_page:
        assert response.status_code == 200
        body = response.get_json()
        pages = math.ceil(total / per_page)
        assert (body["page"], body["per_page"], body["total"], body["pages"]) == (
            page,
            per_page,
            total,
            pages,
        )
        assert len(body["items"]) == max(0, min(per_page, total - (page - 1) * per_page))
        assert (body["next"] is not None) == (page < pages)
    elif response.status_code == 422:
        fields = set(response.get_json()["error"]["fields"])
        assert fields and fields <= {"page", "per_page"}
        if isinstance(page, int) and not valid_page:
            assert "page" in fields
        if isinstance(per_page, int) and not valid_per_page:
            assert "per_page" in fields
    else:
        # Text that pydantic reads as a number in range (" 5", "+3", "0005") is a valid page.
        assert response.status_code == 200
        assert 1 <= response.get_json()["per_page"] <= MAX_PER_PAGE
