"""Reply notifications: only after approval, only with a confirmed opt-in, with one-click
unsubscribe (RFC 8058), the reply as plain text. Delivered to a real SMTP server."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engage.comments import service
from engage.comments.models import Commenter
from engage.extensions import db as _db
from engage.extensions import limiter
from tests.articles.conftest import build_article
from tests.conftest import csrf_token

CONFIRM = re.compile(r"http://engage\.test(/replies/notifications/[A-Za-z0-9_.\-]+)")


def _confirm_opt_in(client, tasks, smtp_server) -> None:
    [message] = smtp_server.wait_for(1, timeout=5)
    assert message.message["List-Unsubscribe"] is None  # transactional
    path = CONFIRM.search(message.message.get_body(("plain",)).get_content()).group(1)
    assert client.get(path).status_code == 200
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 200
    smtp_server.reset()


def test_the_parent_author_hears_after_approval_only(
    client, db, article, moderator, tasks, smtp_server, post
):
    parent = post(
        "Has anyone tried the Tuesday group?", email="asker@example.org", notify=True
    ).comment
    db.session.commit()
    tasks.run()
    [confirm] = [m for m in smtp_server.messages if m.rcpt_tos == ["asker@example.org"]]
    smtp_server.reset()
    path = CONFIRM.search(confirm.message.get_body(("plain",)).get_content()).group(1)
    client.post(path, data={"csrf_token": csrf_token(client, path)})
    service.moderate(db.session, parent, "approve", user_id=moderator.id)
    db.session.commit()
    tasks.run()  # the asker hears their own reply is live (tests/comments/test_author_notes.py)
    smtp_server.reset()
    answer = post(
        "Yes! See [the page](https://groups.example/tuesday) or www.evil.example <b>x</b>",
        email="answerer@example.org",
        parent_id=parent.id,
    ).comment
    db.session.commit()
    tasks.run()
    assert not [m for m in smtp_server.messages if m.rcpt_tos == ["asker@example.org"]]
    service.moderate(db.session, answer, "approve", user_id=moderator.id)
    db.session.commit()
    assert "engage.comments.notify_reply" in tasks.run()
    [note] = [m for m in smtp_server.messages if m.rcpt_tos == ["asker@example.org"]]
    msg = note.message
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<http://engage.test/replies/u/")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "https://groups.example" not in text + html  # link text only, never the link
    assert "www[.]evil[.]example" in text and "www.evil.example" not in text + html
    assert "<b>" not in html
    assert "answerer@example.org" not in text + html
    # One click: the mail client POSTs, and no more notifications go out.
    unsubscribe = msg["List-Unsubscribe"].strip("<>").replace("http://engage.test", "")
    response = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    commenter = db.session.scalar(
        select(Commenter).where(Commenter.email_hash == parent.author_email_hash)
    )
    assert not commenter.wants_notifications


def test_no_email_without_confirmation(db, article, moderator, tasks, smtp_server, post, reply):
    parent = reply(email="unconfirmed@example.org", notify=True)
    answer = post("An answer", email="x@example.org", parent_id=parent.id).comment
    service.moderate(db.session, answer, "approve", user_id=moderator.id)
    db.session.commit()
    assert "engage.comments.notify_reply" not in tasks.run()


def test_no_email_without_the_box(db, article, moderator, tasks, post, reply):
    parent = reply(email="nobox@example.org", notify=False)
    db.session.add(
        Commenter(
            email_hash=parent.author_email_hash,
            email="nobox@example.org",
            notify_confirmed_at=parent.created_at,
        )
    )
    answer = post("An answer", email="x@example.org", parent_id=parent.id).comment
    service.moderate(db.session, answer, "approve", user_id=moderator.id)
    db.session.commit()
    assert "engage.comments.notify_reply" not in tasks.run()


@pytest.mark.worker
def test_a_real_worker_delivers_the_reply_notification(worker_app, worker, committed, smtp_server):
    """The whole way: post, confirm, approve, and a worker process sends over SMTP."""
    from engage.accounts import service as accounts

    with worker_app.app_context():
        limiter.reset()
        session = _db.session
        article = build_article(session, slug="worker-replies")
        moderator = accounts.create_user(
            session, "wmod@example.org", "pw-long-enough-1", "moderator"
        )
        parent = service.post_reply(
            session,
            article,
            name="Ada",
            email="ada@example.org",
            body="Is the group friendly?",
            notify=True,
        ).comment
        session.commit()
        commenter = session.scalar(select(Commenter))
        service.confirm_notifications(session, commenter.id)
        service.moderate(session, parent, "approve", user_id=moderator.id)
        answer = service.post_reply(
            session,
            article,
            name="Ben",
            email="ben@example.org",
            body="Very friendly.",
            parent_id=parent.id,
        ).comment
        session.commit()
        service.moderate(session, answer, "approve", user_id=moderator.id)
        session.commit()
        session.remove()
    import time

    deadline = []

    end = time.monotonic() + 20
    while time.monotonic() < end:
        deadline = [
            m
            for m in smtp_server.messages
            if m.rcpt_tos == ["ada@example.org"] and "replied to you" in str(m.message["Subject"])
        ]
        if deadline:
            break
        time.sleep(0.1)
    assert deadline, worker.log()[-3000:]
    [note] = deadline
    assert "Very friendly." in note.message.get_body(("plain",)).get_content()
    assert note.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
