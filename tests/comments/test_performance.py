"""An article with 2,000 approved replies renders with a constant number of queries."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, insert

from engage.comments.models import Comment
from engage.types import utcnow
from tests.articles.conftest import build_article


def add_replies(session, article, n: int) -> None:
    start = utcnow() - timedelta(days=3)
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": None,
                "article_id": article.id,
                "author_name": f"Reader {i}",
                "author_email": f"r{i}@example.org",
                "author_email_hash": f"{i:064x}",
                "body_markdown": f"Reply {i}",
                "body_html": f"<p>Reply {i}</p>",
                "status": "approved",
                "created_at": start + timedelta(seconds=i),
            }
        )
    for row in rows:
        row.pop("id")
    session.execute(insert(Comment), rows)
    session.flush()


@contextmanager
def counting(engine):
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def queries_for(client, db, n: int) -> int:
    article = build_article(db.session, slug=f"many-{n}")
    add_replies(db.session, article, n)
    db.session.commit()
    with counting(db.engine) as statements:
        page = client.get(f"/articles/{article.slug}").get_data(as_text=True)
    assert f"{n} replies" in page
    return len(statements)


def test_queries_do_not_grow_with_replies(client, db):
    small = queries_for(client, db, 3)
    large = queries_for(client, db, 2000)
    assert large == small
    assert small <= 6
