"""Fixtures for replies: articles, replies and staff as real rows in the per-test database."""

from __future__ import annotations

from itertools import count

import pytest

from engage.accounts import notifications
from engage.accounts import service as accounts
from engage.comments import service
from engage.comments.models import Comment
from engage.subscriptions.service import address_hash
from engage.types import utcnow
from tests.articles.conftest import build_article

PASSWORD = "correct horse battery staple"
_serial = count(1)


@pytest.fixture
def settings(app, monkeypatch):
    """The app's settings; tests change word lists and modes with `monkeypatch.setattr`."""
    return app.config["ENGAGE"]


@pytest.fixture
def article(ctx, db):
    return build_article(db.session, slug=f"reply-article-{next(_serial)}")


def add_reply(
    session,
    article,
    *,
    status="approved",
    email=None,
    name=None,
    parent=None,
    body=None,
    created_at=None,
    notify=False,
    **values,
) -> Comment:
    """A reply row straight into the database (no checks), for setting the scene."""
    n = next(_serial)
    email = email or f"reader{n}@example.org"
    comment = Comment(
        article_id=article.id,
        parent_id=parent.id if parent else None,
        author_name=name or f"Reader {n}",
        author_email=email,
        author_email_hash=address_hash(email),
        body_markdown=body or f"Reply number {n}.",
        body_html=f"<p>{body or f'Reply number {n}.'}</p>",
        status=status,
        notify_replies=notify,
        created_at=created_at or utcnow(),
        **values,
    )
    session.add(comment)
    session.flush()
    return comment


@pytest.fixture
def reply(db, article):
    def make(**values):
        return add_reply(db.session, article, **values)

    return make


@pytest.fixture
def moderator(ctx, db):
    """A moderator who chose to hear about each held reply at once (the default is batched:
    tests/accounts/test_notifications.py): these tests read the per-reply email."""
    user = accounts.create_user(
        db.session, f"mod{next(_serial)}@example.org", PASSWORD, "moderator", "Mo"
    )
    notifications.save_choices(db.session, user, {"held_replies": "immediate"})
    db.session.flush()
    return user


@pytest.fixture
def post(db, article):
    """`post(body, email=…, …)` → service.Posted, through the real pipeline."""

    def run(body="A kind reply.", *, email="someone@example.org", name="Sam", target=None, **kw):
        return service.post_reply(
            db.session, target or article, name=name, email=email, body=body, **kw
        )

    return run


def login(client, user, password=PASSWORD):
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
