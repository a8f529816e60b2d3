"""Staff email notices: each member of staff chooses, per kind, immediate / batched / daily /
off. What arrives at the SMTP server after the tasks (and the beat tasks) run."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from engage.accounts import notifications
from engage.accounts.models import StaffNotification
from engage.accounts.service import create_user
from engage.community import service as community
from engage.mail import emails
from engage.mail.service import queue_email
from tests.comments.conftest import add_reply
from tests.community.conftest import build_group
from tests.conftest import csrf_token

PASSWORD = "a long enough password"
_serial = count(1)


@pytest.fixture
def staff(ctx, db):
    """`staff(role, **choices)`: a new active user with that role and those choices."""

    def make(role: str, **choices: str):
        user = create_user(db.session, f"{role}{next(_serial)}@example.org", PASSWORD, role)
        if choices:
            notifications.save_choices(db.session, user, choices)
        db.session.commit()
        return user

    return make


@pytest.fixture
def beat(app, tasks):
    """Run one beat task by name, then the emails it queued."""

    def run(name: str) -> None:
        app.extensions["celery"].tasks[name].apply(throw=True)
        tasks.run()

    return run


def mail_to(smtp_server, user) -> list:
    return [m.message for m in smtp_server.messages if m.rcpt_tos == [user.email]]


def held_reply(db, article, body="Thank you for this article.", **values):
    """A reply held for moderation as the checks would leave it, with the enqueue they do."""
    from engage.comments.service import immediate_choices
    from engage.queue import enqueue

    comment = add_reply(db.session, article, status="pending", body=body, **values)
    if notifications.recipients(db.session, "held_replies", immediate_choices(comment)):
        enqueue("engage.comments.notify_moderators", comment.id)
    db.session.commit()
    return comment


@pytest.fixture
def article(ctx, db):
    from tests.articles.conftest import build_article

    return build_article(db.session, slug=f"notices-{next(_serial)}")


# --- defaults ----------------------------------------------------------------------------


def test_by_default_a_held_reply_is_not_mailed_to_every_member_of_staff_at_once(
    db, article, staff, tasks, beat, smtp_server
):
    users = [staff("moderator"), staff("editor"), staff("admin")]
    held_reply(db, article, "Thank you for this article.")
    assert tasks.run() == []  # nothing at once
    assert smtp_server.messages == []
    beat("engage.comments.moderation_digest")  # the batch, every 15 minutes
    for user in users:
        [message] = mail_to(smtp_server, user)
        assert message["Subject"] == "1 reply is waiting for a moderator"
        assert "Thank you for this article." in message.get_body(("plain",)).get_content()
    smtp_server.reset()
    beat("engage.comments.moderation_digest")
    assert smtp_server.messages == []  # a rerun sends nothing twice


def test_a_reply_that_needs_care_goes_at_once_to_staff_on_batched_not_daily(
    db, article, staff, tasks, smtp_server
):
    batched, daily = staff("moderator"), staff("moderator", held_replies="daily")
    held_reply(db, article, "I want to die.", flag_needs_care=True)
    assert "engage.comments.notify_moderators" in tasks.run()
    [message] = mail_to(smtp_server, batched)
    assert message["Subject"].startswith("Needs care")
    assert mail_to(smtp_server, daily) == []


def test_the_defaults_by_role(db, staff, app, monkeypatch):
    moderator, editor, admin = staff("moderator"), staff("editor"), staff("admin")
    assert notifications.choices_of(db.session, moderator) == {"held_replies": "batched"}
    assert notifications.choices_of(db.session, editor) == {
        "held_replies": "batched",
        "submissions": "daily",
        "failed_mail": "off",
    }
    assert notifications.choices_of(db.session, admin)["failed_mail"] == "daily"
    # MODERATOR_NOTIFY is the site's default for held replies, for staff who chose nothing.
    monkeypatch.setattr(app.config["ENGAGE"], "moderator_notify", "immediate")
    assert notifications.choices_of(db.session, moderator) == {"held_replies": "immediate"}


# --- each choice for held replies --------------------------------------------------------


def test_held_replies_immediate_batched_daily_off(db, article, staff, tasks, beat, smtp_server):
    at_once = staff("moderator", held_replies="immediate")
    batched = staff("moderator", held_replies="batched")
    daily = staff("moderator", held_replies="daily")
    off = staff("moderator", held_replies="off")

    held_reply(db, article, "First reply waiting.")
    tasks.run()
    [message] = mail_to(smtp_server, at_once)
    assert "First reply waiting." in message.get_body(("plain",)).get_content()
    assert mail_to(smtp_server, batched) == mail_to(smtp_server, daily) == []

    beat("engage.comments.moderation_digest")
    assert len(mail_to(smtp_server, at_once)) == 1  # not again in a batch
    assert len(mail_to(smtp_server, batched)) == 1
    assert len(mail_to(smtp_server, daily)) == 1

    held_reply(db, article, "Second reply waiting.")
    tasks.run()
    beat("engage.comments.moderation_digest")
    beat("engage.comments.moderation_digest")  # a rerun adds nothing
    assert len(mail_to(smtp_server, at_once)) == 2
    [_, second] = mail_to(smtp_server, batched)
    text = second.get_body(("plain",)).get_content()
    assert "Second reply waiting." in text and "First reply waiting." not in text
    assert len(mail_to(smtp_server, daily)) == 1  # not before a day has passed

    row = db.session.get(StaffNotification, (daily.id, "held_replies"))
    row.last_notified_at -= timedelta(days=1)
    db.session.commit()
    beat("engage.comments.moderation_digest")
    [_, later] = mail_to(smtp_server, daily)
    assert "Second reply waiting." in later.get_body(("plain",)).get_content()
    assert mail_to(smtp_server, off) == []


# --- submissions -------------------------------------------------------------------------


def _submitted(db, name: str):
    """A group its organiser has just confirmed: it waits for an editor."""
    group = build_group(
        db.session, name=name, status="pending", approved_at=None, organiser_confirmed_at=None
    )
    community.confirm_organiser(db.session, group)
    db.session.commit()
    return group


def test_submissions_each_choice(db, staff, tasks, beat, smtp_server):
    at_once = staff("editor", submissions="immediate")
    batched = staff("editor", submissions="batched")
    daily = staff("admin")  # the default: daily
    off = staff("editor", submissions="off")

    _submitted(db, "Harbour Lights Anxiety Group")
    assert "engage.staff.notify_immediate" in tasks.run()
    [message] = mail_to(smtp_server, at_once)
    assert message["Subject"] == "1 new listing is waiting for review"
    text = message.get_body(("plain",)).get_content()
    assert "Support group: Harbour Lights Anxiety Group" in text
    assert "(http://engage.test/admin/community)" in text
    assert mail_to(smtp_server, batched) == mail_to(smtp_server, daily) == []

    beat("engage.staff.notify_batched")
    beat("engage.staff.notify_batched")  # a rerun sends nothing twice
    assert len(mail_to(smtp_server, at_once)) == 1
    assert len(mail_to(smtp_server, batched)) == 1
    assert len(mail_to(smtp_server, daily)) == 1
    assert mail_to(smtp_server, off) == []
    for message in smtp_server.messages:
        assert "@example.org" not in message.message.get_body(("plain",)).get_content()

    _submitted(db, "Tuesday Walkers")
    tasks.run()
    beat("engage.staff.notify_batched")
    [_, second] = mail_to(smtp_server, batched)
    text = second.get_body(("plain",)).get_content()
    assert "Tuesday Walkers" in text and "Harbour Lights" not in text
    assert len(mail_to(smtp_server, at_once)) == 2
    assert len(mail_to(smtp_server, daily)) == 1  # a day has not passed


# --- failed mail -------------------------------------------------------------------------


def test_failed_mail_each_choice(db, staff, tasks, beat, smtp_server):
    at_once = staff("editor", failed_mail="immediate")
    batched = staff("editor", failed_mail="batched")
    admin_daily = staff("admin")  # the default for admins: daily
    editor_off = staff("editor")  # the default for editors: off

    smtp_server.script("550 5.1.1 <reader@example.org> unknown user")
    queue_email("test_message", "reader@example.org", emails.test_message("x"))
    db.session.commit()
    ran = tasks.run()
    assert "engage.staff.notify_immediate" in ran
    [message] = mail_to(smtp_server, at_once)
    assert message["Subject"] == "1 email could not be sent"
    text = message.get_body(("plain",)).get_content()
    assert "test_message: 1" in text and "r•••@example.org" in text
    assert "reader@example.org" not in text  # masked
    assert "(http://engage.test/admin/mail/failed)" in text

    beat("engage.staff.notify_batched")
    beat("engage.staff.notify_batched")
    assert len(mail_to(smtp_server, at_once)) == 1
    assert len(mail_to(smtp_server, batched)) == 1
    assert len(mail_to(smtp_server, admin_daily)) == 1
    assert mail_to(smtp_server, editor_off) == []


# --- the page ----------------------------------------------------------------------------


def _sign_in(client, user) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_the_page_needs_a_sign_in(client):
    response = client.get("/admin/account/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_moderator_sees_and_saves_held_replies_only(client, db, staff):
    moderator = staff("moderator")
    _sign_in(client, moderator)
    assert "/admin/account/notifications" in client.get("/admin/").get_data(as_text=True)
    page = client.get("/admin/account/notifications").get_data(as_text=True)
    assert "Replies held for moderation" in page
    assert "waiting for review" not in page and "could not be sent" not in page
    assert 'id="held_replies-batched" name="held_replies" value="batched" checked' in page

    url = "/admin/account/notifications"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "held_replies": "off"})
    assert response.status_code == 303
    assert notifications.choices_of(db.session, moderator) == {"held_replies": "off"}
    page = client.get(url).get_data(as_text=True)
    assert "Saved: your email notices are set." in page
    assert 'value="off" checked' in page

    # A moderator cannot choose submissions; nothing changes.
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "held_replies": "daily",
            "submissions": "immediate",
        },
    )
    assert response.status_code == 400
    assert "Your role does not receive" in response.get_data(as_text=True)
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(StaffNotification).where(
                StaffNotification.user_id == moderator.id, StaffNotification.kind == "submissions"
            )
        )
        is None
    )
    assert notifications.choices_of(db.session, moderator) == {"held_replies": "off"}


def test_bad_input_gets_a_message_not_a_500(client, db, staff):
    _sign_in(client, staff("editor"))
    url = "/admin/account/notifications"
    token = csrf_token(client, url)
    response = client.post(url, data={"csrf_token": token, "submissions": "hourly"})
    assert response.status_code == 400
    assert "Choose how often" in response.get_data(as_text=True)
    response = client.post(url, data={"submissions": "daily"})  # no CSRF token
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_the_moderator_role_cannot_choose_submissions(db, staff):
    moderator = staff("moderator")
    with pytest.raises(notifications.NotificationError):
        notifications.save_choices(db.session, moderator, {"submissions": "immediate"})
