"""GET /api/v1/articles and /api/v1/articles/<slug>."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.test_auth import assert_error

SUMMARY_FIELDS = {"id", "slug", "title", "summary", "published_at", "url"}


def test_list_gives_the_summary_fields_with_utc_offsets(client, auth, make_article):
    when = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    article = make_article(slug="finding-a-group", title="Finding a group", published_at=when)
    response = client.get("/api/v1/articles", headers=auth("moderator"))
    assert response.status_code == 200
    [item] = response.get_json()["items"]
    assert set(item) == SUMMARY_FIELDS
    assert item == {
        "id": article.id,
        "slug": "finding-a-group",
        "title": "Finding a group",
        "summary": article.summary,
        "published_at": "2024-05-01T09:30:00+00:00",
        "url": "http://engage.test/articles/finding-a-group",
    }
    assert datetime.fromisoformat(item["published_at"]) == when


def test_list_orders_newest_first_then_drafts(client, auth, make_article):
    now = datetime.now(UTC)
    old = make_article(published_at=now - timedelta(days=10))
    draft = make_article(published_at=None)
    new = make_article(published_at=now - timedelta(days=1))
    scheduled = make_article(published_at=now + timedelta(days=3))
    items = client.get("/api/v1/articles", headers=auth()).get_json()["items"]
    assert [item["id"] for item in items] == [scheduled.id, new.id, old.id, draft.id]
    assert items[-1]["published_at"] is None


def test_detail_adds_the_body_rendered_safely(client, auth, make_article):
    markdown = "Hello **there**.\n\n<script>alert(1)</script>\n\n[link](javascript:alert(1))"
    article = make_article(slug="safe", body_markdown=markdown)
    response = client.get("/api/v1/articles/safe", headers=auth("moderator"))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == SUMMARY_FIELDS | {"body_markdown", "body_html"}
    assert body["id"] == article.id
    assert body["body_markdown"] == markdown
    assert "<strong>there</strong>" in body["body_html"]
    assert "<script" not in body["body_html"]
    assert 'href="javascript' not in body["body_html"]


def test_detail_of_a_draft_is_available_to_keys(client, auth, make_article):
    make_article(slug="draft-one", published_at=None)
    body = client.get("/api/v1/articles/draft-one", headers=auth()).get_json()
    assert body["published_at"] is None


def test_articles_need_a_key(client, make_article):
    make_article(slug="private")
    assert_error(client.get("/api/v1/articles"), 401, "unauthorized")
    assert_error(client.get("/api/v1/articles/private"), 401, "unauthorized")
