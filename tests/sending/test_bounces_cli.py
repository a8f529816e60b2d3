"""`flask --app engage bounces ingest`: one message on standard input, as a Postfix pipe or
procmail hands it over."""

from __future__ import annotations

from sqlalchemy import select

from engage.sending import verp
from engage.sending.models import BounceEvent
from engage.subscriptions.models import Subscriber
from engage.subscriptions.service import is_suppressed
from tests.sending.test_bounce_mail import sample
from tests.sending.test_bounce_mailbox import make_rows


def ingest(app, raw: bytes, *args: str):
    return app.test_cli_runner().invoke(args=["bounces", "ingest", *args], input=raw)


def test_a_dsn_on_standard_input_suppresses_the_reader(ctx, db, app):
    [row] = make_rows(db.session, 1)
    db.session.commit()
    reader = db.session.get(Subscriber, row.subscriber_id)
    key = app.config["ENGAGE"].hash_key
    raw = sample(
        "postfix_dsn.eml", verp.address("bounces@engage.test", key, "d", row.id), reader.email
    )

    result = ingest(app, raw)

    assert result.exit_code == 0, result.output
    assert "1 report(s) read, 1 recorded." in result.output
    db.session.expire_all()
    assert reader.status == "unsubscribed"
    assert is_suppressed(db.session, reader.email)
    # The same message piped again (the MTA retried): nothing new.
    again = ingest(app, raw)
    assert again.exit_code == 0 and "0 recorded" in again.output
    assert len(db.session.scalars(select(BounceEvent)).all()) == 1


def test_the_envelope_recipient_from_the_pipe_names_the_row(ctx, db, app):
    [row] = make_rows(db.session, 1)
    db.session.commit()
    reader = db.session.get(Subscriber, row.subscriber_id)
    key = app.config["ENGAGE"].hash_key
    # Delivered to the plain bounce address: only the pipe's argument carries the token.
    raw = sample("postfix_dsn.eml", "bounces@engage.test", "someone-else@example.net")
    address = verp.address("bounces@engage.test", key, "d", row.id)

    result = ingest(app, raw, "--recipient", address)

    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert reader.status == "unsubscribed"
    assert not is_suppressed(db.session, "someone-else@example.net")


def test_a_message_that_is_no_bounce_is_accepted_and_ignored(ctx, db, app):
    for raw in (sample("out_of_office.eml"), sample("delayed_dsn.eml"), b"", b"\x00\xff" * 100):
        result = ingest(app, raw)
        assert result.exit_code == 0, result.output
        assert "nothing to do" in result.output
    assert db.session.scalars(select(BounceEvent)).all() == []


def test_an_unreachable_database_asks_the_mail_server_to_try_again(app, make_app, tmp_path):
    broken = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/no/such/folder/engage.db")
    key = broken.config["ENGAGE"].hash_key
    raw = sample("postfix_dsn.eml", verp.address("bounces@engage.test", key, "d", 1))
    result = ingest(broken, raw)
    assert result.exit_code == 75  # EX_TEMPFAIL: Postfix keeps the message and retries
    assert "database cannot be reached" in result.output
