"""Render time and SQL queries of an article page with 200 and 2,000 approved replies.

    .venv/bin/python benchmarks/comments.py [COUNT ...]

Builds a throwaway SQLite database (migrated like production), adds an article with COUNT
approved replies (threads four deep, every fifth a top-level reply), and requests the page
through the WSGI test client: the median of 5 renders after one warm-up, and the number of
SQL statements one render runs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import event, insert, select

from engage import create_app
from engage.articles.models import Article
from engage.comments.models import Comment
from engage.extensions import db
from engage.types import utcnow


def fill(slug: str, n: int) -> None:
    article = Article(
        slug=slug,
        title=f"{n} replies",
        body_markdown="Body.",
        published_at=utcnow() - timedelta(days=1),
    )
    db.session.add(article)
    db.session.flush()
    start = utcnow() - timedelta(days=1)
    for i in range(n):
        parent = None
        if i % 5:
            parent = db.session.scalar(select(Comment.id).order_by(Comment.id.desc()).limit(1))
        db.session.execute(
            insert(Comment),
            [
                {
                    "article_id": article.id,
                    "parent_id": parent,
                    "author_name": f"Reader {i}",
                    "author_email": f"r{i}@example.org",
                    "author_email_hash": f"{i:064x}",
                    "body_markdown": f"Reply {i}",
                    "body_html": f"<p>Reply {i}, with some words.</p>",
                    "status": "approved",
                    "created_at": start + timedelta(seconds=i),
                }
            ],
        )
    db.session.commit()


def main(counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "ENGAGE_ENV": "testing",
                "ENGAGE_INSTANCE_PATH": folder,
                "DATABASE_URL": f"sqlite:///{folder}/bench.db",
                "SECRET_KEY": "benchmark-secret-key-long-enough-to-pass",
            }
        )
        with app.app_context():
            upgrade()
            for n in counts:
                fill(f"bench-{n}", n)
            client = app.test_client()
            print(f"{'replies':>8} {'median ms':>10} {'queries':>8}")
            for n in counts:
                url = f"/articles/bench-{n}"
                client.get(url)
                times = []
                for _ in range(5):
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200
                statements = []

                def count(*_args, statements=statements):
                    statements.append(1)

                event.listen(db.engine, "before_cursor_execute", count)
                client.get(url)
                event.remove(db.engine, "before_cursor_execute", count)
                print(f"{n:>8} {statistics.median(times):>10.1f} {len(statements):>8}")
            db.engine.dispose()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [200, 2000])
