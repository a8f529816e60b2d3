"""The moderation queue: tabs and counts, decisions one by one and in bulk, keeping its place,
history, sanctions and erasure."""

from __future__ import annotations

from sqlalchemy import select

from engage.comments import service
from engage.comments.models import Comment, CommentReport, ModerationAction, Sanction
from engage.subscriptions.service import address_hash
from tests.comments.conftest import login
from tests.conftest import csrf_token


def test_the_queue_needs_a_moderator(client):
    assert client.get("/admin/comments/").status_code == 302


def test_tabs_with_counts_and_context(client, db, moderator, reply):
    parent = reply(name="Parent person", body="The parent text")
    reply(status="pending", parent=parent, body="Waiting reply", email="hidden@example.org")
    reply(status="pending", body="Crisis reply", flag_needs_care=True)
    reply(status="spam")
    reported = reply(body="Reported reply")
    db.session.add(CommentReport(comment_id=reported.id, reason="abuse"))
    db.session.flush()
    login(client, moderator)
    page = client.get("/admin/comments/").get_data(as_text=True)
    for label, n in [("Pending", 1), ("Needs care", 1), ("Reported", 1), ("Approved", 2),
                     ("Rejected", 0), ("Spam", 1)]:  # fmt: skip
        assert f'{label} <span class="count">({n})</span>' in page
    assert "Waiting reply" in page and "The parent text" in page and "Parent person" in page
    assert "Crisis reply" not in page
    assert "hidden@example.org" not in page  # moderators see no addresses; admins do
    care = client.get("/admin/comments/?tab=needs_care").get_data(as_text=True)
    assert "Crisis reply" in care and "needs care" in care
    assert "Abusive" in client.get("/admin/comments/?tab=reported").get_data(as_text=True)


def test_approve_reject_spam_keep_the_queue_in_place(client, db, moderator, reply):
    first, second, third = (reply(status="pending", body=f"R{i}") for i in range(3))
    login(client, moderator)
    token = csrf_token(client, "/admin/comments/")
    response = client.post(
        f"/admin/comments/{second.id}/approve?tab=pending&page=1",
        data={"csrf_token": token, "next_id": str(third.id), "seen": service.seen_hash(second)},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"?tab=pending&page=1#c-{third.id}")
    client.post(
        f"/admin/comments/{first.id}/reject?tab=pending",
        data={"csrf_token": token, "reason": "Off topic"},
    )
    client.post(f"/admin/comments/{third.id}/spam", data={"csrf_token": token})
    assert (first.status, second.status, third.status) == ("rejected", "approved", "spam")
    reject = db.session.scalar(
        select(ModerationAction).where(
            ModerationAction.comment_id == first.id, ModerationAction.action == "reject"
        )
    )
    assert reject.reason == "Off topic" and reject.actor_user_id == moderator.id


def test_bulk_actions(client, db, moderator, reply):
    replies = [reply(status="pending") for _ in range(3)]
    login(client, moderator)
    token = csrf_token(client, "/admin/comments/")
    response = client.post(
        "/admin/comments/bulk?tab=pending",
        data={"csrf_token": token, "action": "spam", "ids": [str(r.id) for r in replies[:2]]},
    )
    assert response.status_code == 303
    assert [r.status for r in replies] == ["spam", "spam", "pending"]


def test_a_decision_resolves_reports(db, moderator, reply):
    target = reply()
    service.report(db.session, target, "spam")
    assert service.queue_counts(db.session)["reported"] == 1
    service.moderate(db.session, target, "approve", user_id=moderator.id)
    assert service.queue_counts(db.session)["reported"] == 0


def test_history_of_a_reply_and_of_a_commenter(client, db, moderator, reply):
    target = reply(status="pending", email="hist@example.org")
    service.moderate(db.session, target, "reject", reason="Advertising", user_id=moderator.id)
    login(client, moderator)
    history = client.get(f"/admin/comments/{target.id}/history").get_data(as_text=True)
    assert "Advertising" in history and "Mo" in history
    page = client.get(f"/admin/comments/commenter/{address_hash('hist@example.org')}")
    assert page.status_code == 200 and "Advertising" in page.get_data(as_text=True)


def test_ban_and_premoderate_from_the_admin(client, db, moderator):
    login(client, moderator)
    url = "/admin/comments/sanctions"
    token = csrf_token(client, url)
    client.post(
        url,
        data={
            "csrf_token": token,
            "address-csrf_token": token,
            "form": "address",
            "address-address": "Bad@Example.org",
            "address-kind": "ban",
        },
    )
    [ban] = db.session.scalars(select(Sanction)).all()
    assert ban.kind == "ban" and ban.email_hash == address_hash("bad@example.org")
    listed = client.get(url).get_data(as_text=True)
    assert f"/admin/comments/commenter/{ban.email_hash}" in listed  # listed, to lift later
    assert "bad@example.org" not in listed.lower()  # only the hash is known
    client.post(
        url,
        data={
            "csrf_token": token,
            "domain-csrf_token": token,
            "form": "domain",
            "domain-domain": "spam.example",
            "domain-kind": "premoderate",
        },
    )
    assert "spam.example" in client.get(url).get_data(as_text=True)


def test_erasing_a_commenter_clears_name_and_address(db, reply, moderator):
    mine = reply(email="erase.me@example.org", name="Erase Me", body="Private story", notify=True)
    other = reply(parent=mine)
    service.erase_commenter(db.session, mine.author_email_hash, user_id=moderator.id)
    db.session.refresh(mine)
    assert (mine.author_name, mine.author_email, mine.body_markdown, mine.body_html) == (
        service.ERASED_NAME,
        None,
        "",
        "",
    )
    assert other.author_email is not None
    assert (
        db.session.scalar(select(Comment).where(Comment.author_email == "erase.me@example.org"))
        is None
    )
