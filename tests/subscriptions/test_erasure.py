"""Erasure and export cover every area: a reader's replies, their reply notifications and the
listings they submitted, not only the subscription. After an erasure the address is nowhere."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engage.accounts.service import create_api_key
from engage.comments import service as comments
from engage.comments.models import Comment, Commenter
from engage.community.models import SupportGroup
from engage.subscriptions import emails, service
from tests.articles.conftest import build_article
from tests.community.conftest import build_group
from tests.conftest import csrf_token

ADDRESS = "reader@example.org"


@pytest.fixture
def reader(ctx, db, topics):
    """A confirmed reader who replied twice (one reply approved, with notifications on),
    and organised a group and started listing another."""
    outcome = service.sign_up(db.session, ADDRESS, topics=None, digest="off", source="t")
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    article = build_article(db.session, slug="finding-a-group", title="Finding a group")
    first = comments.post_reply(
        db.session,
        article,
        name="Sam R.",
        email="Reader@Example.org",
        body="The Tuesday group helped me *a lot*.",
        notify=True,
    ).comment
    comments.moderate(db.session, first, "approve")
    comments.confirm_notifications(
        db.session, comments.get_commenter(db.session, first.author_email_hash).id
    )
    answer = comments.post_reply(
        db.session, article, name="Other", email="other@example.org", body="Glad to hear it."
    ).comment
    comments.moderate(db.session, answer, "approve")
    comments.post_reply(
        db.session, article, name="Sam R.", email=ADDRESS, body="Is there one on Sundays?"
    )
    build_group(db.session, name="Sam's circle", organiser_email=ADDRESS)
    build_group(
        db.session,
        name="Unconfirmed circle",
        status="pending",
        approved_at=None,
        organiser_email=ADDRESS,
        organiser_confirmed_at=None,
    )
    db.session.commit()
    return outcome.subscriber


def preferences_path(subscriber) -> str:
    return emails.preferences_url(subscriber).removeprefix("http://engage.test")


def test_the_export_has_every_reply_the_reader_wrote(client, db, reader):
    url = preferences_path(reader)
    response = client.post(url + "/export", data={"csrf_token": csrf_token(client, url)})
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))
    replies = data["replies"]
    assert [r["text"] for r in replies] == [
        "The Tuesday group helped me *a lot*.",
        "Is there one on Sundays?",
    ]
    assert [r["status"] for r in replies] == ["approved", "pending"]
    assert {r["article"] for r in replies} == {"Finding a group"}
    assert replies[0]["url"].startswith("http://engage.test/articles/finding-a-group#c-")
    assert all(r["created_at"] and r["display_name"] == "Sam R." for r in replies)
    assert data["reply_notifications"]["email"] == ADDRESS
    assert data["reply_notifications"]["confirmed_at"]
    assert {listing["name"] for listing in data["listings"]} == {
        "Sam's circle",
        "Unconfirmed circle",
    }
    assert "Glad to hear it." not in response.get_data(as_text=True)  # someone else's


def every_value(db):
    """Every value in every table, as (table, column, value)."""
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).mappings():
            for column, value in row.items():
                yield table.name, column, value


def erase_by_preferences(client, db, reader):
    url = preferences_path(reader)
    data = {"csrf_token": csrf_token(client, url), "sure": "y"}
    return client.post(url + "/erase", data=data)


def erase_by_api(client, db, reader):
    _, key = create_api_key(db.session, "erasure", "editor")
    db.session.commit()
    return client.delete(
        f"/api/v1/subscribers/{reader.id}", headers={"Authorization": f"Bearer {key}"}
    )


@pytest.mark.parametrize("erase", [erase_by_preferences, erase_by_api])
def test_after_erasure_the_address_is_nowhere(client, db, reader, erase):
    email_hash = reader.email_hash
    assert erase(client, db, reader).status_code in (200, 204)
    db.session.expire_all()

    for table, column, value in every_value(db):
        text = json.dumps(value, default=str).lower()
        assert ADDRESS not in text, (table, column)
        if table != "suppressions":  # the keyed hash that stops us mailing it again
            assert email_hash not in text, (table, column)

    # The replies stay in their threads, anonymous, with nothing linking them together.
    replies = db.session.scalars(
        select(Comment).where(Comment.author_name == comments.FORMER_READER).order_by(Comment.id)
    ).all()
    assert [r.body_markdown for r in replies] == [
        "The Tuesday group helped me *a lot*.",
        "Is there one on Sundays?",
    ]
    assert all(r.author_email is None and not r.notify_replies for r in replies)
    assert len({r.author_email_hash for r in replies}) == 2
    assert db.session.scalar(select(Commenter).where(Commenter.email_hash == email_hash)) is None
    page = client.get("/articles/finding-a-group").get_data(as_text=True)
    assert "Former reader" in page and "Sam R." not in page
    # The confirmed organiser's group stays listed without the address; the unconfirmed
    # submission goes.
    groups = db.session.scalars(select(SupportGroup).order_by(SupportGroup.id)).all()
    assert [(g.name, g.organiser_email) for g in groups] == [("Sam's circle", None)]
    assert service.is_suppressed(db.session, ADDRESS)
