"""Factories for article tests: real rows in the per-test database."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest

from engage.articles.models import Article
from engage.types import utcnow

_serial = count(1)


def build_article(session, **values) -> Article:
    """Add a published article (override anything with keyword arguments) and flush it."""
    n = next(_serial)
    fields = {
        "slug": f"article-{n}",
        "title": f"Article number {n}",
        "summary": f"Summary of article {n}.",
        "body_markdown": f"First paragraph of article {n}.\n\nA *second* one.",
        "published_at": utcnow() - timedelta(days=1),
    }
    fields.update(values)
    article = Article(**fields)
    session.add(article)
    session.flush()
    return article


@pytest.fixture
def make_article(ctx, db):
    """A factory: `make_article(**fields)` adds a flushed Article in the test's savepoint."""

    def make(**values) -> Article:
        return build_article(db.session, **values)

    return make
