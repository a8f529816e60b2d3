"""A link names a row and carries its key: it never opens a row that got the same id later.

SQLite hands the highest rowid out again after a delete unless the table is AUTOINCREMENT; on
any backend a row can come back with an old id (a restore, an import with ids). Either way a
link from an old email must find nothing, never the next reader.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from engage.subscriptions import emails, service
from engage.subscriptions.models import Subscriber
from engage.types import opaque_id, utcnow
from tests.conftest import csrf_token

BASE = "http://engage.test"


def confirmed(db, address: str) -> Subscriber:
    outcome = service.sign_up(db.session, address, topics=None, digest="off", source="t")
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    db.session.commit()
    return outcome.subscriber


def preferences_path(subscriber: Subscriber) -> str:
    return emails.preferences_url(subscriber).removeprefix(BASE)


def test_an_erased_readers_link_never_opens_the_next_readers_preferences(client, topics, db):
    alice = confirmed(db, "alice@example.org")
    alice_id, alice_link = alice.id, preferences_path(alice)
    erase = client.post(
        alice_link + "/erase",
        data={"csrf_token": csrf_token(client, alice_link), "sure": "y"},
    )
    assert erase.status_code == 200

    bob = confirmed(db, "bob@example.org")
    assert bob.id != alice_id  # ids in links are never handed out again

    page = client.get(alice_link)
    assert page.status_code == 404
    assert "bob@example.org" not in page.get_data(as_text=True)
    export = client.post(alice_link + "/export", data={"csrf_token": csrf_token(client, "/")})
    assert export.status_code in (400, 404)
    assert b"bob@example.org" not in export.data


def test_a_purged_sign_ups_confirmation_link_never_confirms_the_next_one(client, topics, db):
    old = service.sign_up(db.session, "late@example.org", topics=None, digest="off", source="t")
    db.session.commit()
    old_link = emails.subscription_confirm(old.subscriber, old.consent)["confirm_url"]
    old_link = old_link.removeprefix(BASE)
    old_id = old.subscriber.id
    assert service.purge_unconfirmed(db.session, now=utcnow() + timedelta(days=8)) == 1
    db.session.commit()

    new = service.sign_up(db.session, "next@example.org", topics=None, digest="off", source="t")
    db.session.commit()
    assert new.subscriber.id != old_id

    assert client.get(old_link).status_code == 404
    response = client.post(old_link, data={"csrf_token": csrf_token(client, "/subscribe")})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Subscriber, new.subscriber.id).status == "pending"


def _reuse_id(db, subscriber_id: int, address: str) -> Subscriber:
    """A new reader inserted with an old id, as a restore or an import could do anywhere."""
    db.session.execute(
        insert(Subscriber).values(
            id=subscriber_id,
            email=address,
            email_hash=service.address_hash(address),
            status="confirmed",
            digest="off",
            timezone="UTC",
            interests={},
            unsubscribe_id=opaque_id(),
            created_at=utcnow(),
            confirmations_sent_today=0,
            hard_bounces=0,
        )
    )
    db.session.commit()
    return db.session.scalar(select(Subscriber).where(Subscriber.email == address))


def test_a_link_is_bound_to_its_row_not_only_to_its_id(client, topics, db):
    alice = confirmed(db, "alice@example.org")
    alice_id, alice_link = alice.id, preferences_path(alice)
    service.erase(db.session, alice)
    db.session.commit()
    bob = _reuse_id(db, alice_id, "bob@example.org")
    assert bob.id == alice_id

    page = client.get(alice_link)
    assert page.status_code == 404
    assert "bob@example.org" not in page.get_data(as_text=True)
    assert client.get(preferences_path(bob)).status_code == 200  # Bob's own link works


def test_revoking_a_readers_links_voids_every_earlier_link(client, topics, db):
    reader = confirmed(db, "reader@example.org")
    link, old_unsubscribe = preferences_path(reader), f"/u/{reader.unsubscribe_id}"
    assert client.get(link).status_code == 200
    service.revoke_links(db.session, reader)
    db.session.commit()
    assert client.get(link).status_code == 404
    assert client.get(old_unsubscribe).status_code == 404
    assert client.get(preferences_path(reader)).status_code == 200
