"""Moderator emails and their links: one action on one reply, once, for 7 days, via a page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engage.comments.models import ModerationLink
from tests.conftest import csrf_token

LINK = re.compile(r"http://engage\.test(/moderate/(approve|reject)/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def emailed(client, db, article, moderator, tasks, smtp_server):
    """Post a reply through the form; run the tasks; return the moderator's links by action."""
    data = {
        "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
        "name": "Robin",
        "email": "robin@example.org",
        "body": "I want to die, honestly.",
    }
    assert client.post(f"/articles/{article.slug}/replies", data=data).status_code == 303
    ran = tasks.run()
    assert ran[0] == "engage.comments.notify_moderators" and "engage.send_email" in ran
    [message] = [m for m in smtp_server.messages if m.rcpt_tos == [moderator.email]]
    text = message.message.get_body(("plain",)).get_content()
    assert message.message["Subject"].startswith("Needs care")
    assert "I want to die, honestly." in text
    return {action: path for path, action in LINK.findall(text)}


def test_a_link_opens_a_page_and_its_button_acts_once(client, db, emailed):
    from engage.comments.models import Comment

    comment = db.session.scalar(select(Comment))
    page = client.get(emailed["approve"])
    assert page.status_code == 200 and "Approve the reply" in page.get_data(as_text=True)
    assert comment.status == "pending"  # a GET (a link scanner) changes nothing
    token = csrf_token(client, emailed["approve"])
    assert client.post(emailed["approve"], data={"csrf_token": token}).status_code == 200
    assert comment.status == "approved"
    again = client.post(emailed["approve"], data={"csrf_token": token})
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)
    # The other link is for a reply that is decided now.
    assert client.get(emailed["reject"]).status_code == 409


def test_a_link_is_for_its_own_action_only(client, emailed):
    wrong = emailed["approve"].replace("/moderate/approve/", "/moderate/reject/")
    response = client.get(wrong)
    assert response.status_code == 400 and "another action" in response.get_data(as_text=True)


def test_a_link_expires_after_seven_days(client, db, emailed):
    for link in db.session.scalars(select(ModerationLink)):
        link.expires_at = link.created_at - timedelta(seconds=1)
    db.session.flush()
    assert client.get(emailed["approve"]).status_code == 410


def test_an_old_token_has_expired(app, client, db, emailed, monkeypatch):
    from engage import tokens

    monkeypatch.setitem(
        tokens.PURPOSES,
        "moderation-action",
        tokens.Purpose("engage.moderation-action", timedelta(0)),
    )
    import time

    time.sleep(1.1)
    assert client.get(emailed["approve"]).status_code == 410


def test_a_tampered_link_is_refused(client, emailed):
    assert client.get(emailed["approve"][:-3] + "abc").status_code == 400


def test_batched_mode_sends_one_email_per_moderator(
    db, article, moderator, post, tasks, smtp_server
):
    from engage.accounts import notifications

    notifications.save_choices(db.session, moderator, {"held_replies": "batched"})
    post("First waiting", email="a@example.org")
    post("Second waiting", email="b@example.org")
    db.session.commit()
    assert tasks.run() == []  # nothing at once
    from engage.comments import emails

    assert emails.moderation_digest(db.session) == 2
    db.session.commit()
    tasks.run()
    [message] = smtp_server.messages
    text = message.message.get_body(("plain",)).get_content()
    assert "First waiting" in text and "Second waiting" in text
    assert len(LINK.findall(text)) == 4
    assert emails.moderation_digest(db.session) == 0  # a rerun changes nothing
