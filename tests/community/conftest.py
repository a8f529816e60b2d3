"""Factories for the directory's tests: real groups and events in the per-test database, signed-in
staff, and API keys."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest

from engage.accounts.service import create_api_key, create_user
from engage.community.models import Event, SupportGroup
from engage.types import utcnow

PASSWORD = "correct horse battery staple"
_serial = count(1)


def build_group(session, **values) -> SupportGroup:
    """An approved support group (override anything) added and flushed."""
    n = next(_serial)
    now = utcnow()
    fields = {
        "slug": f"group-{n}",
        "name": f"Group number {n}",
        "description": f"A friendly group, number {n}.",
        "purposes": ["anxiety"],
        "format": "in_person",
        "region": "North West England",
        "city": "Salford",
        "schedule": "Every Tuesday, 7pm",
        "language": "English",
        "run_by": "peer",
        "cost": "Free",
        "how_to_join": "Just turn up.",
        "contact": f"group{n}@example.org",
        "timezone": "Europe/London",
        "status": "approved",
        "approved_at": now - timedelta(days=1),
        "organiser_email": f"organiser{n}@example.org",
        "organiser_confirmed_at": now - timedelta(days=2),
        "created_at": now - timedelta(days=3),
    }
    fields.update(values)
    group = SupportGroup(**fields)
    session.add(group)
    session.flush()
    return group


def build_event(session, **values) -> Event:
    """An approved event a week from now (override anything) added and flushed."""
    n = next(_serial)
    now = utcnow()
    starts = values.pop("starts_at", now + timedelta(days=7))
    fields = {
        "slug": f"event-{n}",
        "title": f"Event number {n}",
        "description": f"What happens at event {n}.",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "timezone": "Europe/London",
        "location": "Quayside Community Centre, Salford",
        "online_url": "",
        "status": "approved",
        "approved_at": now - timedelta(hours=1),
        "organiser_email": f"events{n}@example.org",
        "organiser_confirmed_at": now - timedelta(days=1),
        "created_at": now - timedelta(days=1),
    }
    fields.update(values)
    event = Event(**fields)
    session.add(event)
    session.flush()
    return event


@pytest.fixture
def make_group(ctx, db):
    """`make_group(**fields)`: committed (in the test's savepoint), so requests see it."""

    def make(**values) -> SupportGroup:
        group = build_group(db.session, **values)
        db.session.commit()
        return group

    return make


@pytest.fixture
def make_event(ctx, db):
    def make(**values) -> Event:
        event = build_event(db.session, **values)
        db.session.commit()
        return event

    return make


def sign_in(client, user) -> None:
    """Sign in through the real login form (works whatever the client did before)."""
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def make_user(ctx, db):
    def make(role: str):
        user = create_user(db.session, f"{role}{next(_serial)}@example.org", PASSWORD, role)
        db.session.commit()
        return user

    return make


@pytest.fixture
def editor_client(client, make_user):
    sign_in(client, make_user("editor"))
    return client


@pytest.fixture
def auth(ctx, db):
    """`auth(role)` → headers carrying a fresh API key with that role."""

    def headers(role: str = "editor") -> dict[str, str]:
        _, secret = create_api_key(db.session, f"key {next(_serial)}", role)
        db.session.commit()  # an API error rolls back the request's work, not the key
        return {"Authorization": f"Bearer {secret}"}

    return headers


def mail_to(tasks, smtp_server, address: str) -> list:
    """Run the queued tasks; the messages that reached `address`.

    Filtered by recipient because a Redis broker's default queue can be shared with another
    test run (see `queue_app`), whose emails would then also land here.
    """
    tasks.run()
    return [m for m in smtp_server.messages if address in m.rcpt_tos]
