"""A moderator's decision is about the text they read: an edit made after they read it is
never published by their Approve (queue button, bulk, emailed link or API), and once a
moderator has decided, the author can no longer change the reply (they can still delete it).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engage.accounts.service import create_api_key
from engage.comments import service
from engage.comments.models import Comment, ModerationLink
from tests.comments.conftest import login
from tests.conftest import csrf_token

BENIGN = "The Tuesday group helped me a lot, thank you."
SCAM = "Cheap pills without prescription at [this shop](https://pills.example/buy)."
LINK = re.compile(r"http://engage\.test(/moderate/(approve|reject)/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def author(client, db, article):
    """The author's browser, with a pending reply it posted (and may edit for 15 minutes)."""
    data = {
        "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
        "name": "Robin",
        "email": "robin@example.org",
        "body": BENIGN,
    }
    assert client.post(f"/articles/{article.slug}/replies", data=data).status_code == 303
    comment = db.session.scalar(select(Comment).where(Comment.author_name == "Robin"))
    assert comment.status == "pending"
    client.comment = comment
    return client


def edit(author, body: str):
    url = f"/replies/{author.comment.id}/edit"
    return author.post(url, data={"csrf_token": csrf_token(author, url), "body": body})


@pytest.fixture
def mod(author, moderator):
    """The moderator, signed in. The same test client as the author's (Flask-WTF keeps one
    CSRF token per app context, which the test's requests share); the reply was posted and is
    edited through its cookie, not as staff."""
    login(author, moderator)
    return author


def seen_on_queue(mod, comment_id: int) -> str:
    page = mod.get("/admin/comments/").get_data(as_text=True)
    item = page[page.index(f'id="c-{comment_id}"') :]
    return re.search(r'name="seen" value="([0-9a-f]+)"', item).group(1)


# --- the queue ----------------------------------------------------------------------------


def test_approve_in_the_queue_refuses_a_reply_edited_since_it_was_read(author, mod, db):
    comment = author.comment
    seen = seen_on_queue(mod, comment.id)  # the moderator reads the benign text
    assert edit(author, SCAM).status_code == 303  # the author swaps it, within 15 minutes
    token = csrf_token(mod, "/admin/comments/")
    response = mod.post(
        f"/admin/comments/{comment.id}/approve", data={"csrf_token": token, "seen": seen}
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "This reply changed since you read it" in page
    assert "pills.example" in page  # the new text, to decide on
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).status == "pending"

    # Deciding on what is shown now works.
    fresh = re.search(r'name="seen" value="([0-9a-f]+)"', page).group(1)
    done = mod.post(
        f"/admin/comments/{comment.id}/reject",
        data={"csrf_token": token, "seen": fresh, "reason": "Advertising"},
    )
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).status == "rejected"


def test_approve_without_the_text_read_is_refused(author, mod, db):
    token = csrf_token(mod, "/admin/comments/")
    response = mod.post(f"/admin/comments/{author.comment.id}/approve", data={"csrf_token": token})
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Comment, author.comment.id).status == "pending"


def test_approve_of_the_text_read_publishes_it(author, mod, db):
    seen = seen_on_queue(mod, author.comment.id)
    token = csrf_token(mod, "/admin/comments/")
    response = mod.post(
        f"/admin/comments/{author.comment.id}/approve", data={"csrf_token": token, "seen": seen}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Comment, author.comment.id).status == "approved"


def test_bulk_approve_leaves_replies_edited_since_they_were_read(author, mod, db, reply):
    other = reply(status="pending", body="Another kind reply")
    page = mod.get("/admin/comments/").get_data(as_text=True)
    seen = dict(re.findall(r'name="seen-(\d+)" value="([0-9a-f]+)"', page))
    assert set(seen) == {str(author.comment.id), str(other.id)}
    edit(author, SCAM)
    token = csrf_token(mod, "/admin/comments/")
    response = mod.post(
        "/admin/comments/bulk",
        data={
            "csrf_token": token,
            "action": "approve",
            "ids": [str(author.comment.id), str(other.id)],
            **{f"seen-{i}": h for i, h in seen.items()},
        },
        follow_redirects=True,
    )
    assert "changed since you read" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Comment, other.id).status == "approved"
    assert db.session.get(Comment, author.comment.id).status == "pending"


# --- the emailed single-use link -----------------------------------------------------------


def _links(db, tasks, smtp_server, moderator) -> dict[str, str]:
    db.session.commit()
    tasks.run()
    messages = [m for m in smtp_server.messages if m.rcpt_tos == [moderator.email]]
    text = messages[-1].message.get_body(("plain",)).get_content()
    smtp_server.reset()
    return {action: path for path, action in LINK.findall(text)}


def test_an_emailed_approve_link_refuses_a_reply_edited_since_the_email(
    tasks, smtp_server, moderator, author, db
):
    links = _links(db, tasks, smtp_server, moderator)  # the email shows the benign text
    page = author.get(links["approve"])  # any browser: the link is the credential
    token = csrf_token(author, links["approve"])
    assert edit(author, SCAM).status_code == 303
    for response in (
        author.get(links["approve"]),
        author.post(links["approve"], data={"csrf_token": token}),
    ):
        assert response.status_code == 409
        text = response.get_data(as_text=True)
        assert "This reply changed since you read it" in text
        assert "Cheap pills without prescription" in text  # the new text, as in the email
    assert "Approve the reply" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Comment, author.comment.id).status == "pending"
    # The link is not spent: nothing was decided with it.
    assert all(link.used_at is None for link in db.session.scalars(select(ModerationLink)))
    # The edit put the reply back in the queue, and the new email's link works on the new text.
    fresh = _links(db, tasks, smtp_server, moderator)
    token = csrf_token(author, fresh["reject"])
    assert author.post(fresh["reject"], data={"csrf_token": token}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Comment, author.comment.id).status == "rejected"


def test_an_edit_between_opening_the_link_and_pressing_the_button_is_caught(
    tasks, smtp_server, moderator, author, db
):
    links = _links(db, tasks, smtp_server, moderator)
    token = csrf_token(author, links["approve"])  # the page shows the benign text
    edit(author, SCAM)
    response = author.post(links["approve"], data={"csrf_token": token})
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Comment, author.comment.id).status == "pending"


# --- the API ------------------------------------------------------------------------------


@pytest.fixture
def api(db, ctx):
    _, secret = create_api_key(db.session, "moderation bot", "moderator")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _listed(client, api, comment_id):
    items = client.get("/api/v1/comments?status=pending", headers=api).get_json()["items"]
    return next(item for item in items if item["id"] == comment_id)


def test_api_approve_needs_the_hash_of_the_text_read(author, db, api):
    comment = author.comment
    listed = _listed(author, api, comment.id)
    assert listed["text_hash"] == service.text_hash(BENIGN)
    edit(author, SCAM)
    url = f"/api/v1/comments/{comment.id}/approve"
    stale = author.post(url, json={"seen_hash": listed["text_hash"]}, headers=api)
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert "changed since you read it" in error["message"] and "seen_hash" in error["fields"]
    missing = author.post(url, json={}, headers=api)
    assert missing.status_code == 422 and "seen_hash" in missing.get_json()["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).status == "pending"

    again = author.get(f"/api/v1/comments/{comment.id}", headers=api).get_json()
    assert "pills.example" in again["body_html"]
    done = author.post(url, json={"seen_hash": again["text_hash"]}, headers=api)
    assert done.status_code == 200 and done.get_json()["status"] == "approved"


def test_api_bulk_approve_skips_replies_edited_since_they_were_read(author, db, api, reply):
    other = reply(status="pending", body="Fine words")
    db.session.commit()
    hashes = {str(i): _listed(author, api, i)["text_hash"] for i in (author.comment.id, other.id)}
    edit(author, SCAM)
    body = {"ids": [author.comment.id, other.id], "action": "approve", "seen": hashes}
    answer = author.post("/api/v1/comments/bulk", json=body, headers=api)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {
        "changed": [other.id],
        "unchanged": [],
        "missing": [],
        "stale": [author.comment.id],
    }
    # Without the hashes read, nothing is approved unread: every id comes back stale.
    unread = author.post(
        "/api/v1/comments/bulk", json={"ids": [other.id], "action": "approve"}, headers=api
    )
    assert unread.status_code == 200
    assert unread.get_json()["stale"] == [other.id] and unread.get_json()["changed"] == []


# --- after a moderator's decision, the author cannot change the reply --------------------------


@pytest.mark.parametrize("action", ["approve", "reject", "spam"])
def test_after_a_decision_the_author_can_no_longer_edit(author, db, moderator, action):
    comment = author.comment
    service.moderate(db.session, comment, action, user_id=moderator.id)
    db.session.commit()
    status = comment.status
    url = f"/replies/{comment.id}/edit"
    page = author.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "A moderator has already read this reply" in html
    assert "<textarea" not in html and "Delete my reply" in html
    response = author.post(url, data={"csrf_token": csrf_token(author, url), "body": SCAM})
    assert response.status_code == 403
    assert "A moderator has already read this reply" in response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(Comment, comment.id)
    assert stored.status == status and stored.body_markdown == BENIGN


def test_a_rejected_reply_does_not_go_back_to_the_queue_by_an_edit(db, post, moderator):
    comment = post(BENIGN).comment
    service.moderate(db.session, comment, "reject", reason="Off topic", user_id=moderator.id)
    with pytest.raises(service.ReplyError, match="A moderator has already read this reply"):
        service.edit_reply(db.session, comment, "Now it is fine, honestly.")
    assert comment.status == "rejected" and comment.body_markdown == BENIGN


def test_the_author_can_still_delete_after_a_decision(author, db, moderator):
    comment = author.comment
    service.moderate(db.session, comment, "approve", user_id=moderator.id)
    db.session.commit()
    page = author.get(f"/articles/{comment.article.slug}").get_data(as_text=True)
    assert f'href="/replies/{comment.id}/edit">Delete</a>' in page
    url = f"/replies/{comment.id}/delete"
    token = csrf_token(author, f"/replies/{comment.id}/edit")
    assert author.post(url, data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).deleted_at is not None


def test_a_system_decision_does_not_lock_the_reply(author, db):
    # Held by the checks, not yet read by anyone: the author may still fix a typo.
    assert edit(author, "The Tuesday group helped me a lot. Thank you!").status_code == 303
    db.session.expire_all()
    assert db.session.get(Comment, author.comment.id).body_markdown.endswith("Thank you!")
