"""Digest fixtures: listings and readers as rows; the newsletter tests' workers and sender."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engage.community.models import DigestRender, Event, SupportGroup
from engage.sending.models import Delivery
from engage.subscriptions.models import Subscriber, Topic
from engage.subscriptions.service import address_hash
from engage.types import opaque_id, utcnow
from tests.newsletters.conftest import (  # noqa: F401  (fixtures the worker tests use)
    live,
    send_settings,
    sender,
    start_worker,
)

_serial = itertools.count(1)


def add_group(session, approved_at: datetime | None, **fields) -> SupportGroup:
    n = next(_serial)
    values = {
        "slug": f"group-{n}",
        "name": f"Group {n}",
        "purposes": ["anxiety"],
        "format": "in_person",
        "region": "Yorkshire",
        "city": "Leeds",
        "status": "approved" if approved_at else "pending",
        "approved_at": approved_at,
        **fields,
    }
    group = SupportGroup(**values)
    session.add(group)
    session.flush()
    return group


def add_event(session, approved_at: datetime, starts_at: datetime, group=None, **fields) -> Event:
    n = next(_serial)
    values = {
        "slug": f"event-{n}",
        "title": f"Event {n}",
        "group_id": group.id if group else None,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "timezone": "Europe/London",
        "location": "Leeds Library",
        "status": "approved",
        "approved_at": approved_at,
        **fields,
    }
    event = Event(**values)
    session.add(event)
    session.flush()
    return event


def add_reader(
    session,
    digest: str = "weekly",
    confirmed_at: datetime | None = None,
    timezone: str = "UTC",
    interests: dict | None = None,
    topics: list[Topic] | None = None,
    **fields,
) -> Subscriber:
    address = f"digest-reader-{next(_serial)}@example.org"
    values = {
        "email": address,
        "email_hash": address_hash(address),
        "status": "confirmed",
        "digest": digest,
        "timezone": timezone,
        "interests": interests or {},
        "unsubscribe_id": opaque_id(),
        "created_at": confirmed_at or utcnow(),
        "confirmed_at": confirmed_at,
        "topics": topics or [],
        **fields,
    }
    reader = Subscriber(**values)
    session.add(reader)
    session.flush()
    return reader


def render_of(session, reader: Subscriber) -> DigestRender | None:
    """The render a reader's digest delivery points to (None: no digest for them)."""
    return session.scalar(
        select(DigestRender)
        .join(Delivery, Delivery.digest_render_id == DigestRender.id)
        .where(Delivery.subscriber_id == reader.id)
    )


@pytest.fixture
def session(ctx, db):
    return db.session
