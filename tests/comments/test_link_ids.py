"""Links and cookies about replies name a row and carry its key: a reply, commenter or
moderation link that is gone never lends its power to a new row that got the same id."""

from __future__ import annotations

import re

from sqlalchemy import select

from engage.comments.models import Comment, Commenter, ModerationLink
from tests.comments.conftest import add_reply
from tests.conftest import csrf_token

CONFIRM = re.compile(r"http://engage\.test(/replies/notifications/[A-Za-z0-9_.\-]+)")
MODERATE = re.compile(r"http://engage\.test(/moderate/(approve|reject)/[A-Za-z0-9_.\-]+)")


def send(client, article, email, body="Thank you."):
    data = {
        "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
        "name": "Robin",
        "email": email,
        "body": body,
    }
    return client.post(f"/articles/{article.slug}/replies", data=data)


def test_an_edit_cookie_never_owns_the_reply_that_got_its_id(app, client, db, article):
    assert send(client, article, "alice@example.org").status_code == 303
    alices = db.session.scalar(select(Comment))
    old_id = alices.id
    db.session.delete(alices)
    db.session.commit()
    # Someone else's reply now has that id (and, as short replies do, the same words).
    bobs = add_reply(
        db.session,
        article,
        id=old_id,
        status="pending",
        email="bob@example.org",
        body="Thank you.",
    )
    db.session.commit()

    # Alice's browser still holds the cookie for reply `old_id`.
    assert client.get(f"/replies/{bobs.id}/edit").status_code == 403
    page = client.get(f"/articles/{article.slug}").get_data(as_text=True)
    assert "reply-pending" not in page  # nor is Bob's reply shown to her as her own


def test_a_confirmation_link_never_turns_on_another_commenters_notifications(
    client, db, article, tasks, smtp_server, post
):
    post("Any news?", email="alice@example.org", notify=True)
    db.session.commit()
    tasks.run()
    [message] = [m for m in smtp_server.messages if m.rcpt_tos == ["alice@example.org"]]
    link = CONFIRM.search(message.message.get_body(("plain",)).get_content()).group(1)
    alice = db.session.scalar(select(Commenter))
    old_id = alice.id
    db.session.delete(alice)
    db.session.commit()
    db.session.add(Commenter(id=old_id, email_hash="b" * 64, email="bob@example.org"))
    db.session.commit()

    assert client.get(link).status_code == 404
    response = client.post(link, data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Commenter, old_id).notify_confirmed_at is None


def test_a_moderation_link_never_acts_on_a_reply_that_got_its_ids(
    client, db, article, moderator, tasks, smtp_server
):
    assert send(client, article, "robin@example.org", "I want to die, honestly.").status_code == 303
    tasks.run()
    [message] = [m for m in smtp_server.messages if m.rcpt_tos == [moderator.email]]
    links = dict(
        (action, path)
        for path, action in MODERATE.findall(message.message.get_body(("plain",)).get_content())
    )
    first = db.session.scalar(select(Comment))
    old_ids = {
        link.action: link.id
        for link in db.session.scalars(
            select(ModerationLink).where(ModerationLink.comment_id == first.id)
        )
    }
    comment_id = first.id
    db.session.delete(first)  # its links go with it
    db.session.commit()
    other = add_reply(db.session, article, id=comment_id, status="pending", body="Buy now!")
    for action, link_id in old_ids.items():
        db.session.add(
            ModerationLink(
                id=link_id,
                comment_id=other.id,
                user_id=moderator.id,
                action=action,
                created_at=other.created_at,
                expires_at=other.created_at.replace(year=other.created_at.year + 1),
            )
        )
    db.session.commit()

    page = client.get(links["approve"])
    assert page.status_code == 400 and "Buy now!" not in page.get_data(as_text=True)
    response = client.post(links["approve"], data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Comment, comment_id).status == "pending"
