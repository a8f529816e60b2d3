"""Ninety days of made-up growth for looking at the dashboard: a few thousand readers who sign
up, mostly confirm, sometimes leave, some bounces, and four sends. Written set-based."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert, select

from engage.newsletters.models import Newsletter
from engage.sending.models import BounceEvent, Delivery
from engage.subscriptions.models import Subscriber
from engage.types import opaque_id


def ninety_days(session, now, seed: int = 7) -> None:
    """Fill the database (flushes, does not commit)."""
    rng = random.Random(seed)
    start = now - timedelta(days=92)
    rows, n = [], 0
    for day in range(92):
        # Slow growth, with a spike after an article was shared and quiet weekends.
        base = 25 + day // 4 + (80 if day in (40, 41) else 0)
        if (start + timedelta(days=day)).weekday() >= 5:
            base //= 2
        for _ in range(base + rng.randint(-6, 6)):
            n += 1
            created = start + timedelta(days=day, seconds=rng.randint(0, 86_000))
            if created >= now:
                continue
            confirmed = created + timedelta(minutes=rng.randint(2, 600))
            left = None
            if rng.random() > 0.85 or confirmed >= now:
                confirmed = None
            elif rng.random() < 0.12:
                left = confirmed + timedelta(days=rng.uniform(0.5, 40))
                left = left if left < now else None
            rows.append(
                {
                    "email": f"reader{n}@example.org",
                    "email_hash": f"made-up-{n}",
                    "status": "unsubscribed" if left else "confirmed" if confirmed else "pending",
                    "created_at": created,
                    "confirmed_at": confirmed,
                    "unsubscribed_at": left,
                    "unsubscribe_id": opaque_id(),
                }
            )
    session.execute(insert(Subscriber), rows)
    ids = session.execute(select(Subscriber.id, Subscriber.created_at)).all()
    subjects = (
        "Finding a group near you",
        "When the nights draw in: winter and low mood",
        "Peer support, explained by the people who run it",
        "Our autumn letter",
    )
    for index, subject in enumerate(subjects):
        started = now - timedelta(days=70 - index * 20, hours=3)
        newsletter = Newsletter(subject=subject, status="sent", started_at=started)
        session.add(newsletter)
        session.flush()
        deliveries, bounces = [], []
        for subscriber_id, created in ids:
            if created >= started:
                continue
            roll = rng.random()
            values = {"newsletter_id": newsletter.id, "subscriber_id": subscriber_id}
            if roll < 0.012:
                values |= {"status": "failed", "bounce": "hard"}
            elif roll < 0.02:
                values |= {"status": "pending", "attempts": 2, "first_deferred_at": started}
            else:
                values |= {"status": "sent", "sent_at": started}
            deliveries.append(values)
        session.execute(insert(Delivery), deliveries)
        for _, kind in zip(range(rng.randint(4, 12)), ("hard", "soft") * 10, strict=False):
            bounces.append(
                {
                    "kind": kind,
                    "source": "made-up",
                    "diagnostic": "",
                    "occurred_at": started + timedelta(hours=rng.randint(1, 90)),
                    "subscriber_id": rng.choice(ids)[0],
                }
            )
        session.execute(insert(BounceEvent), [b for b in bounces if b["occurred_at"] < now])
    session.flush()
