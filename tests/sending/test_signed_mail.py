"""Every kind of email Engage sends, through its real path to a real SMTP server, with DKIM
and BOUNCE_ADDRESS configured: each one signed (checked by dkimpy against the public key, as
a receiving server would), over the list headers when it has them, with From and Subject
over-signed; each one's envelope sender the VERP address of its own row; and its header lines
as the RFCs want them."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engage.accounts import staff
from engage.accounts.models import User
from engage.accounts.service import create_user
from engage.comments import emails as comment_emails
from engage.comments import service as comments
from engage.comments.models import Commenter
from engage.community import emails as community_emails
from engage.community import notices as community_notices
from engage.extensions import db
from engage.mail import emails
from engage.mail.render import EMAILS_DIR
from engage.mail.service import queue_email
from engage.newsletters import service as newsletters
from engage.sending import notices as failed_notices
from engage.sending import verp
from engage.sending.models import Delivery, OutboxMessage
from engage.subscriptions import emails as subscription_emails
from engage.subscriptions import service as subscriptions
from engage.subscriptions.models import Subscriber
from engage.subscriptions.service import address_hash
from engage.types import utcnow
from tests.articles.conftest import build_article
from tests.comments.conftest import add_reply
from tests.digests.conftest import add_group, add_reader
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic
from tests.support import tasks as queued
from tests.support.dkim import KeyPair, check_wire_headers, decoded, signed_headers
from tests.support.dkim import unfolded_headers as headers_of

BOUNCES = "bounces@engage.test"
LIST_HEADERS = ("list-id", "list-unsubscribe", "list-unsubscribe-post")
# A long title with typographic quotes and accents: the moderator's "Needs care" subject once
# carried it in one encoded word of 89 characters.
LONG_TITLE = (
    "Quand l’anxiété revient : parler à son médecin quand on a l’impression que personne n’écoute"
)


# Set ENGAGE_RAW_MAIL to a folder to keep one raw message of every kind as it arrived.
RAW_DUMP = os.environ.get("ENGAGE_RAW_MAIL")


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def signing(make_app, keys, db):  # noqa: ARG001 (db: the test's savepoint)
    """An app that signs with `keys` and sends with VERP envelope senders, in its context."""
    app = make_app(BOUNCE_ADDRESS=BOUNCES, **keys.settings)
    queued.purge(app)
    with app.app_context():
        yield app
    queued.purge(app)


def run_tasks(app) -> None:
    """What the workers do: run every task on the queue (and those they queue in turn)."""
    while queued.run_queued(app):
        pass


def row_of(received, settings):
    """The row the envelope sender names: a Delivery or an OutboxMessage."""
    token = verp.parse(received.mail_from, settings.hash_key, BOUNCES)
    assert token is not None, f"not a VERP address of ours: {received.mail_from}"
    model = Delivery if token.kind == verp.DELIVERY else OutboxMessage
    row = db.session.get(model, token.id)
    assert row is not None, f"{received.mail_from} names no row"
    return row


def check_signed(received, keys: KeyPair, *, lists: bool, transactional: bool) -> None:
    raw = received.raw
    assert raw.startswith(b"DKIM-Signature: ")
    assert keys.verify(raw), "the DKIM signature does not verify"
    signed = signed_headers(raw)
    present = [name.lower() for name, _ in headers_of(raw)]
    for name in ("from", "subject"):
        assert signed.count(name) == present.count(name) + 1, f"{name} is not over-signed"
    for name in ("to", "date", "message-id", "mime-version", "content-type"):
        assert signed.count(name) == present.count(name) == 1, name
    for name in LIST_HEADERS:
        assert (name in present) == lists, name
        assert signed.count(name) == present.count(name) + 1, f"{name} is not over-signed"
    # Transactional mail says a program sent it; list mail does not.
    assert ("auto-submitted" in present) == transactional
    assert signed.count("auto-submitted") == (1 if transactional else 0)
    check_wire_headers(raw)
    # A header added on the way breaks the signature.
    head, body = raw.split(b"\r\n\r\n", 1)
    assert not keys.verify(head + b"\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n" + body)


def test_every_email_is_signed_and_bounces_name_its_row(signing, keys, smtp_server):
    settings = signing.config["ENGAGE"]
    session = db.session
    now = utcnow()

    # Subscriptions: a sign-up's confirmation, the welcome (list headers), "already".
    outcome = subscriptions.sign_up(
        session, "new-reader@example.org", topics=None, digest=None, source="test"
    )
    subscription_emails.queue_signup_email(outcome)
    topic = add_topic(session)
    [member] = add_readers(session, 1, [topic])
    reader = session.scalar(select(Subscriber).where(Subscriber.email == member))
    subscription_emails.queue_welcome(reader)
    subscription_emails.queue_already_subscribed(reader)

    # Replies: the moderators' emails (one for a reply that needs care, then the batched
    # one), the opt-in confirmation and the notification of an answer.
    create_user(session, "moderator@example.org", "a long enough password", "moderator", "Mo")
    article = build_article(session, slug="quand-l-anxiete", title=LONG_TITLE)
    held = add_reply(session, article, status="pending", flag_needs_care=True)
    comment_emails.notify_moderators(session, held.id)
    add_reply(session, article, status="pending")
    comment_emails.moderation_digest(session)
    comments.post_reply(
        session, article, name="Sam", email="asker@example.org", body="Any tips?", notify=True
    )
    commenter = Commenter(
        email="parent@example.org",
        email_hash=address_hash("parent@example.org"),
        notify_confirmed_at=now,
    )
    session.add(commenter)
    parent = add_reply(session, article, email="parent@example.org", notify=True)
    answer = add_reply(session, article, parent=parent, email="answerer@example.org")
    to, context, headers = comment_emails.reply_notification(session, answer.id)
    queue_email("comment_reply", to, context, headers)
    # The author's own notes: "your reply is live", and the kind note on a rejection.
    assert comment_emails.tell_author(session, parent, "live")
    assert comment_emails.tell_author(session, parent, "not_published")

    # Community listings: the organiser's confirmation, approval and rejection.
    group = add_group(session, None, name="Cercle du mardi", organiser_email="org@example.org")
    community_emails.queue_confirmation(group)
    community_emails.queue_approved(group)
    group.rejection_reason = "We list groups that meet in person or online."
    community_emails.queue_rejected(group)
    # Private joining details on request, and the organiser's notice that someone asked.
    community_emails.queue_joining_details(group, "asker@example.org")
    community_emails.queue_joining_asked(group)

    # A staff invitation, from the moderator made above.
    invited = staff.invite(session, "robin@example.org", "Robin", "editor")
    staff.queue_invite_email(invited, session.scalar(select(User).where(User.role == "moderator")))

    # Staff notices: submissions waiting for review, and a count of failed mail.
    queue_email(
        "staff_submissions", "editor@example.org", community_notices.staff_submissions([group])
    )
    failed = OutboxMessage(email="test_message", recipient="gone@example.org")
    queue_email(
        "staff_failed_mail", "admin@example.org", failed_notices.staff_failed_mail([failed])
    )

    # The admin's test email, a newsletter with a test copy, and a digest.
    queue_email("test_message", "admin@example.org", emails.test_message("admin@example.org"))
    newsletter = add_newsletter(session, [topic], subject="Nouvelles du lundi ✿")
    newsletters.send_test(newsletter, "editor@example.org")
    newsletters.send_now(session, newsletter)
    add_group(session, now - timedelta(hours=1), name="Tuesday circle")
    add_reader(session, "daily", confirmed_at=now - timedelta(days=2))
    session.commit()
    signing.extensions["celery"].send_task("engage.digests.run", args=["daily"])
    run_tasks(signing)

    seen: dict[str, int] = {}
    subjects: set[str] = set()
    for received in smtp_server.messages:
        row = row_of(received, settings)
        msg = received.message
        if isinstance(row, Delivery):
            kind = "newsletter" if row.newsletter_id else "digest"
            subscriber = session.get(Subscriber, row.subscriber_id)
            assert received.rcpt_tos == [subscriber.email]
            assert received.mail_from == verp.address(BOUNCES, settings.hash_key, "d", row.id)
        elif row.task == "engage.newsletters.send_test":
            kind = "test copy"
            assert received.rcpt_tos == ["editor@example.org"]
        elif row.email == "community_joining_details":
            kind = row.email
            assert received.rcpt_tos == ["asker@example.org"]
            assert not row.recipient  # the reader's address is forgotten once sent
        else:
            kind = row.email
            assert received.rcpt_tos == [row.recipient]
        assert msg["From"] == "Engage <news@engage.test>"  # the From header stays MAIL_FROM
        bulk = kind in ("newsletter", "digest", "test copy")
        if not bulk:
            assert msg["Auto-Submitted"] == "auto-generated"
        lists = bulk or kind in (
            "subscription_welcome",
            "comment_reply",
            "comment_live",
            "comment_not_published",
        )
        check_signed(received, keys, lists=lists, transactional=not bulk)
        seen[kind] = seen.get(kind, 0) + 1
        if RAW_DUMP:  # one raw message of each kind, to read (ENGAGE_RAW_MAIL=folder)
            name = kind.replace(" ", "_")
            Path(RAW_DUMP, f"{name}.eml").write_bytes(received.raw)
        [subject] = [value for name, value in headers_of(received.raw) if name == "Subject"]
        subjects.add(decoded(subject))

    everything = {folder.name for folder in EMAILS_DIR.iterdir() if folder.is_dir()}
    assert set(seen) == everything | {"test copy"}, set(seen) ^ (everything | {"test copy"})
    assert seen["newsletter"] == 1 and seen["digest"] == 1
    # Long non-ASCII subjects arrive whole, folded into short encoded words (checked above).
    assert f"Needs care: a reply is waiting on “{LONG_TITLE}”" in subjects
    assert "Nouvelles du lundi ✿" in subjects and "[Test] Nouvelles du lundi ✿" in subjects
