"""A digest edition as a producer for engage/sending: each row's message comes from the
render it points to (a handful per edition, each built into a message template once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engage.community.models import DigestEdition, DigestRender
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL
from engage.sending import pipeline
from engage.sending.mime import MessageTemplate
from engage.sending.models import Delivery
from engage.subscriptions.emails import digest_unsubscribe_url, list_headers, preferences_url
from engage.subscriptions.models import Subscriber
from engage.types import utcnow

deliveries = Delivery.__table__
editions = DigestEdition.__table__
renders = DigestRender.__table__


@dataclass
class Plan:
    """Editions finished, and (edition id, how many batch tasks) to send."""

    finished: list[int] = field(default_factory=list)
    dispatch: list[tuple[int, int]] = field(default_factory=list)


def rows_of(edition_id: int):
    return deliveries.c.digest_edition_id == edition_id


def finish_if_done(session: Session, edition_id: int, now: datetime | None = None) -> bool:
    """Stamp a digest edition `finished_at` once no row is pending or claimed."""
    left = session.scalar(
        select(func.count()).where(
            rows_of(edition_id), deliveries.c.status.in_(("pending", "claimed"))
        )
    )
    if left:
        return False
    result = session.execute(
        update(editions)
        .where(editions.c.id == edition_id, editions.c.finished_at.is_(None))
        .values(finished_at=now or utcnow())
    )
    return result.rowcount == 1


def tick(session: Session, now: datetime | None = None) -> Plan:
    """Finish editions with nothing left; plan batches where due rows wait for nobody.
    The caller commits."""
    now = now or utcnow()
    open_editions = session.scalars(
        select(DigestEdition.id).where(DigestEdition.finished_at.is_(None))
    ).all()
    finished, dispatch = pipeline.survey(session, open_editions, rows_of, finish_if_done, now)
    return Plan(finished=finished, dispatch=dispatch)


class DigestSend:
    """A digest edition for the batch loop."""

    def __init__(self, edition: DigestEdition):
        self.id = edition.id
        self.label = f"digest edition {edition.id}"
        self.rows = rows_of(edition.id)
        self.templates: dict[int, MessageTemplate | None] = {}

    def row(self, delivery_id: int):
        return (
            select(
                deliveries.c.claim_token,
                Subscriber.id,
                Subscriber.status,
                Subscriber.email,
                Subscriber.unsubscribe_id,
                Subscriber.digest,
                deliveries.c.digest_render_id,
            )
            .select_from(deliveries)
            .join(Subscriber, Subscriber.id == deliveries.c.subscriber_id)
            .where(deliveries.c.id == delivery_id)
        )

    def active(self, row) -> bool:
        return True

    def wanted(self, row) -> bool:
        return row.digest != "off"  # turned the digest off since the rows were made

    def message_template(self, db, row) -> MessageTemplate | None:
        render_id = row.digest_render_id
        if render_id not in self.templates:
            found = db.run(
                select(renders.c.subject, renders.c.html, renders.c.text).where(
                    renders.c.id == render_id
                ),
                "one",
            )
            self.templates[render_id] = (
                None
                if found is None
                else pipeline.build_template(found.subject, found.html, found.text)
            )
        return self.templates[render_id]

    def links(self, row) -> tuple[dict[str, str], dict[str, str]]:
        url = digest_unsubscribe_url(row)
        values = {UNSUBSCRIBE_URL: url, PREFERENCES_URL: preferences_url(row)}
        return values, list_headers(row, digest=True)

    def pause(self, db, reason: str) -> str:
        # A digest has no editor to resume it: the rows go back to pending and the periodic
        # tick sends a batch task for them again (a retry, a few seconds later).
        return "stopped"

    def finish(self, session) -> None:
        finish_if_done(session, self.id)


def send_batch(
    session: Session, edition_id: int, time_budget: float = pipeline.BATCH_TIME_BUDGET
) -> pipeline.BatchResult:
    """Send a digest edition's due rows over one SMTP connection, each message from its
    row's render, with the digest-only unsubscribe link (see pipeline.send_batches)."""

    def load(session: Session):
        edition = session.get(DigestEdition, edition_id)
        return None if edition is None else DigestSend(edition)

    return pipeline.send_batches(session, load, time_budget)
