"""A reply's own author hears back: "your reply is live" when a moderator approves it (once,
only after a confirmed opt-in), and a kind note on rejection only when the moderator ticks
the box. Through the queue's real forms, the outbox and a real SMTP server."""

from __future__ import annotations

import re

from sqlalchemy import select

from engage.comments import service
from engage.comments.models import ModerationAction
from tests.comments.conftest import login
from tests.conftest import csrf_token

CONFIRM = re.compile(r"http://engage\.test(/replies/notifications/[A-Za-z0-9_.\-]+)")
AUTHOR = "author@example.org"
SECRET_WORDS = "I do not know how much longer I can keep going"


def _to(smtp_server, address: str) -> list:
    return [m.message for m in smtp_server.messages if m.rcpt_tos == [address]]


def _opt_in(client, db, tasks, smtp_server, post, body: str):
    """A pending reply whose author ticked "email me" and confirmed it by the emailed link."""
    comment = post(body, email=AUTHOR, notify=True).comment
    db.session.commit()
    tasks.run()
    [confirm] = _to(smtp_server, AUTHOR)
    path = CONFIRM.search(confirm.get_body(("plain",)).get_content()).group(1)
    client.post(path, data={"csrf_token": csrf_token(client, path)})
    smtp_server.reset()
    assert comment.status == "pending"
    return comment


def _decide(client, comment, action: str, **form) -> None:
    token = csrf_token(client, "/admin/comments/")
    response = client.post(
        f"/admin/comments/{comment.id}/{action}",
        data={"csrf_token": token, "seen": service.seen_hash(comment), **form},
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def test_the_author_hears_once_that_their_reply_is_live(
    client, db, article, moderator, tasks, smtp_server, post
):
    comment = _opt_in(client, db, tasks, smtp_server, post, "Thank you for this article.")
    login(client, moderator)
    _decide(client, comment, "approve")
    tasks.run()
    [live] = _to(smtp_server, AUTHOR)
    assert live["Subject"] == f"Your reply on “{article.title}” is live"
    assert live["List-Unsubscribe"].startswith("<http://engage.test/replies/u/")
    assert live["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = live.get_body(("plain",)).get_content()
    html = live.get_body(("html",)).get_content()
    link = f"http://engage.test/articles/{article.slug}#c-{comment.id}"
    assert f"See your reply ({link})" in text
    assert f'href="{link}"' in html
    assert "Thank you for this article." in text  # their own words, so they know which reply

    # Taken down and approved again: no second email about the same reply.
    smtp_server.reset()
    _decide(client, comment, "reject", reason="Off topic")
    _decide(client, comment, "approve")
    tasks.run()
    assert comment.status == "approved"
    assert _to(smtp_server, AUTHOR) == []
    marks = db.session.scalars(
        select(ModerationAction.action).where(
            ModerationAction.comment_id == comment.id, ModerationAction.action.like("author-told%")
        )
    ).all()
    assert marks == ["author-told:live"]


def test_no_live_email_without_a_confirmed_opt_in(
    client, db, article, moderator, tasks, smtp_server, post
):
    unconfirmed = post("Ticked, never confirmed.", email="unsure@example.org", notify=True).comment
    confirmed = _opt_in(client, db, tasks, smtp_server, post, "The first, with the box.")
    no_box = post("The second, without the box.", email=AUTHOR, notify=False).comment
    db.session.commit()
    tasks.run()
    smtp_server.reset()
    login(client, moderator)
    _decide(client, unconfirmed, "approve")
    _decide(client, no_box, "approve")
    tasks.run()
    assert smtp_server.messages == []
    _decide(client, confirmed, "approve")
    tasks.run()
    assert len(_to(smtp_server, AUTHOR)) == 1
    assert smtp_server.messages[0].rcpt_tos == [AUTHOR]


def test_a_kind_note_on_rejection_only_when_the_moderator_ticks_it(
    client, db, article, moderator, tasks, smtp_server, post, app
):
    quiet = _opt_in(client, db, tasks, smtp_server, post, "A reply rejected in silence.")
    noted = post(SECRET_WORDS, email=AUTHOR, notify=True).comment
    db.session.commit()
    login(client, moderator)
    queue = client.get("/admin/comments/").get_data(as_text=True)
    # Off by default, and offered only where a note can reach a confirmed address.
    assert queue.count('name="kind_note" value="y">') == 2
    assert 'name="kind_note" value="y" checked' not in queue

    _decide(client, quiet, "reject", reason="Off topic")
    tasks.run()
    assert _to(smtp_server, AUTHOR) == []

    _decide(client, noted, "reject", reason="Unkind or abusive", kind_note="y")
    _decide(client, noted, "reject", reason="Unkind or abusive", kind_note="y")
    tasks.run()
    [note] = _to(smtp_server, AUTHOR)
    assert note["Subject"] == f"About your reply on “{article.title}”"
    text = note.get_body(("plain",)).get_content()
    html = note.get_body(("html",)).get_content()
    assert "This is not a judgement of you." in text
    assert "call 116 123" in " ".join(text.split())  # the crisis numbers, wrapped at 72
    assert f"http://engage.test/articles/{article.slug}" in text
    # Neither their words nor the verdict are quoted back.
    for said in (SECRET_WORDS, "Unkind", "abusive"):
        assert said not in text and said not in html
    assert noted.status == "rejected"


def test_no_note_offered_for_an_author_who_cannot_be_reached(
    client, db, article, moderator, tasks, smtp_server, post
):
    comment = post("No box ticked here.", email="quiet@example.org").comment
    db.session.commit()
    tasks.run()
    smtp_server.reset()
    login(client, moderator)
    queue = client.get("/admin/comments/").get_data(as_text=True)
    assert 'name="kind_note"' not in queue
    assert "No note possible" in queue
    # A forged tick changes nothing: there is no confirmed address to write to.
    _decide(client, comment, "reject", reason="Off topic", kind_note="y")
    tasks.run()
    assert smtp_server.messages == []


def test_the_emailed_reject_link_can_send_the_note_too(
    client, db, article, moderator, tasks, smtp_server
):
    data = {
        "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
        "name": "Robin",
        "email": AUTHOR,
        "body": SECRET_WORDS,
        "notify": "y",
    }
    assert client.post(f"/articles/{article.slug}/replies", data=data).status_code == 303
    tasks.run()
    [confirm] = _to(smtp_server, AUTHOR)
    path = CONFIRM.search(confirm.get_body(("plain",)).get_content()).group(1)
    client.post(path, data={"csrf_token": csrf_token(client, path)})
    [alert] = _to(smtp_server, moderator.email)
    reject = re.search(
        r"http://engage\.test(/moderate/reject/[A-Za-z0-9_.\-]+)",
        alert.get_body(("plain",)).get_content(),
    ).group(1)
    smtp_server.reset()
    page = client.get(reject).get_data(as_text=True)
    assert 'name="kind_note" value="y">' in page
    response = client.post(
        reject,
        data={"csrf_token": csrf_token(client, reject), "reason": "Off topic", "kind_note": "y"},
    )
    assert response.status_code == 200
    tasks.run()
    [note] = _to(smtp_server, AUTHOR)
    assert note["Subject"] == f"About your reply on “{article.title}”"
    assert SECRET_WORDS not in note.get_body(("plain",)).get_content()
