"""API test fixtures: real keys and articles in the per-test savepoint, and a probe app.

The probe app is a second app built from the same settings, with one extra blueprint of
endpoints declared through the same `api_route` frame. The foundation endpoints take no body,
so the probe is how the body rules (400, 413, 415, 422), role levels and the 500 path are
exercised on real declarations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engage import create_app
from engage.accounts.service import create_api_key
from engage.api import ANY_ROLE, PUBLIC, ApiBlueprint, ApiError, PageQuery, Timestamp
from engage.articles.models import Article
from engage.extensions import db as _db

_serial = count(1)
PROBE_MAX_CONTENT_LENGTH = 2048


class EchoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    count: int = Field(ge=0)
    tags: list[str] = []
    when: Timestamp | None = None

    @model_validator(mode="after")
    def _no_empty_tags_with_zero(self):
        if self.count == 0 and self.tags:
            raise ValueError("tags need a count above zero")
        return self


class EchoOut(BaseModel):
    name: str
    count: int
    tags: list[str]
    when: Timestamp | None


class SearchQuery(PageQuery):
    tag: list[str] = []
    since: Timestamp | None = None
    flag: bool = False


class SearchOut(BaseModel):
    page: int
    per_page: int
    tag: list[str]
    since: Timestamp | None
    flag: bool


class Done(BaseModel):
    ok: bool


probe = ApiBlueprint("api_probe", __name__, url_prefix="/api/v1/_probe")


@probe.api_route(
    "/echo", methods=["POST"], role="editor", body=EchoBody, response=EchoOut, status=201
)
def echo(body: EchoBody):
    """Echo the body back."""
    return body.model_dump()


@probe.api_route(
    "/items/<int:item_id>", methods=["PUT", "DELETE"], role="admin", body=Done, status=204
)
def item(item_id: int, body: Done):
    """Accept an item and answer 204."""
    return None


@probe.api_route("/search", role=ANY_ROLE, query=SearchQuery, response=SearchOut)
def search(query: SearchQuery):
    """Echo the parsed query."""
    return query


@probe.api_route("/moderation", role="moderator", response=Done)
def moderation():
    """Any key passes: every role includes moderator."""
    return {"ok": True}


@probe.api_route("/boom", role=PUBLIC)
def boom():
    """Fail the way a bug does."""
    raise RuntimeError("secret internals /home/engage/app.py line 12")


@probe.api_route("/wrong-response", role=PUBLIC, response=Done)
def wrong_response():
    """Return something the declared response model refuses."""
    return {"ok": "not a boolean at all"}


@probe.api_route("/write-then-fail", methods=["POST"], role="admin", body=Done)
def write_then_fail(body: Done):
    """Write a row, then refuse: the row must not stay."""
    create_api_key(_db.session, "ghost", "moderator")
    raise ApiError(409, "Refused after writing.")


@probe.api_route("/write", methods=["POST"], role="admin", body=Done, status=201)
def write(body: Done):
    """Write a row and succeed: the frame commits it."""
    create_api_key(_db.session, "kept", "moderator")
    return {"ok": True}


@pytest.fixture(scope="session")
def probe_app(app, test_settings):
    """A second app on the same (already migrated) database, with the probe endpoints."""
    probe_app = create_app(
        {
            **test_settings,
            "MAX_CONTENT_LENGTH": PROBE_MAX_CONTENT_LENGTH,
            "WTF_CSRF_ENABLED": True,
        }
    )
    probe_app.register_blueprint(probe)
    yield probe_app
    with probe_app.app_context():
        _db.engine.dispose()


@pytest.fixture
def probe_client(probe_app, db):
    # Not `with client:` — that keeps the probe app's context pushed between requests, and
    # fixtures would then write through the probe request's session instead of the test's.
    return probe_app.test_client()


@pytest.fixture
def make_key(ctx, db):
    """`make_key(role)` → the secret of a fresh key with that role, in the test's savepoint."""

    def make(role: str = "editor", name: str | None = None) -> str:
        _, secret = create_api_key(db.session, name or f"key {next(_serial)}", role)
        return secret

    return make


@pytest.fixture
def auth(make_key):
    """`auth(role)` → headers carrying a fresh key with that role."""

    def headers(role: str = "editor") -> dict[str, str]:
        return {"Authorization": f"Bearer {make_key(role)}"}

    return headers


@pytest.fixture
def make_article(ctx, db):
    """`make_article(**fields)` → a flushed Article, published a day ago unless told otherwise."""

    def make(**values) -> Article:
        n = next(_serial)
        fields = {
            "slug": f"api-article-{n}",
            "title": f"Article {n}",
            "summary": f"Summary {n}.",
            "body_markdown": f"Paragraph {n}.",
            "published_at": datetime.now(UTC) - timedelta(days=1),
        }
        fields.update(values)
        article = Article(**fields)
        db.session.add(article)
        db.session.flush()
        return article

    return make
