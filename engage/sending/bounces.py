"""Bounces and complaints: one rule for every way a report reaches us.

A report is a `BounceReport`, whoever made it: the SMTP session's 5xx (engage/sending/pipeline.py,
source "smtp"), a delivery status notification or an abuse report that came back by mail
(engage/sending/bounce_mail.py), or a provider's webhook. `apply` records it as a `BounceEvent`
and decides:

- a complaint unsubscribes the reader and suppresses the address at once;
- a hard bounce, a permanent failure about the address itself, suppresses it at once;
- a soft bounce counts; `bounce_soft_limit` of them within `bounce_soft_days` suppress.

The reader is the one the VERP token's row names (a delivery row's subscriber, an outbox
message's recipient), else the address the report names. The same report twice (the same
provider event id, or the same kind for the same message) changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engage.addresses import InvalidAddress, normalise_email
from engage.mail.message import mask_address, redact_addresses
from engage.sending.models import BOUNCE_KINDS, BounceEvent, Delivery, OutboxMessage
from engage.sending.verp import DELIVERY, OUTBOX, VerpToken
from engage.subscriptions.models import Subscriber
from engage.subscriptions.service import address_hash, suppress, unsubscribe
from engage.types import utcnow

log = logging.getLogger(__name__)

Kind = Literal["hard", "soft", "complaint"]
SOURCES = ("smtp", "dsn", "arf", "ses", "postmark", "sendgrid", "mailgun")
DIAGNOSTIC_LIMIT = 500
# Which report wins on the delivery row when several arrive: a complaint says the most.
_RANK = {None: 0, "soft": 1, "hard": 2, "complaint": 3}
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class BounceReport:
    """What one bounce or complaint says, from any source; `apply` acts on it.

    `token` must come from `engage.sending.verp.parse` (which checks it): `apply` trusts the
    row it names over `recipient`.
    """

    kind: Kind
    recipient: str | None  # the address the report names, if any
    token: VerpToken | None  # the row the VERP address named, if any
    status: str = ""  # RFC 3463 status, e.g. "5.1.1"
    diagnostic: str = ""  # the server's words (stored redacted)
    source: str = ""  # "smtp", "dsn", "arf", "ses", "postmark", "sendgrid", "mailgun"
    event_id: str | None = None  # a provider's id for the event: the same id twice counts once
    occurred_at: datetime | None = None


def status_in(text: str | None) -> str:
    """The first RFC 3463 status (`5.1.1`) in `text`, or ""."""
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else ""


def about_the_address(status: str) -> bool:
    """Whether a permanent failure with RFC 3463 `status` is about the recipient's address
    (no such mailbox, no such domain, mailbox disabled), rather than about this message or us.

    An unknown or generic status (`5.0.0`, none at all) counts as about the address: that is
    how servers answer "no such user" without an enhanced code, and a provider that calls a
    bounce permanent without a status has already judged it.
    """
    if not status:
        return True
    match = _STATUS.fullmatch(status.strip())
    if match is None:
        return True
    cls, subject, detail = match.groups()
    if cls != "5":
        return False
    subject_n, detail_n = int(subject), int(detail)
    if subject_n == 0:
        return True  # 5.0.0: "other or undefined", what many servers say for an unknown user
    if subject_n == 1:
        # 5.1.x: addressing. All of it is about the address except 5.1.7/5.1.8, the
        # *sender's* address (our bounce address) being refused.
        return detail_n not in (7, 8)
    if subject_n == 2:
        # 5.2.1 mailbox disabled. 5.2.2 (full) and 5.2.3 (message too long) are about the
        # moment or the message: soft.
        return detail_n in (0, 1)
    if subject_n == 4:
        # 5.4.4: the destination domain cannot be routed (no MX, no address): the address
        # is dead. Other 5.4.x are network trouble on the way.
        return detail_n == 4
    # 5.3.x (their system), 5.5.x (protocol), 5.6.x (content) and 5.7.x (security or
    # policy) are not about the reader's address. 5.7.x in particular is a spam filter, a
    # blocklist or DMARC refusing *our* mail: suppressing readers for it would wipe out a
    # list because of one blocklisting. They count as soft, so a reader who really is
    # refused for good is still suppressed after a few.
    return False


def classify(kind: Kind, status: str) -> Kind:
    """The kind `apply` acts on: a "hard" report whose status is not about the address (a
    policy block, a full mailbox) counts as soft."""
    if kind == "hard" and not about_the_address(status):
        return "soft"
    return kind


def smtp_refusal(
    recipient: str | None, code: int | None, text: str, token: VerpToken | None = None
) -> BounceReport:
    """The report for a refusal in our own SMTP session: a 5xx is "hard" (and `apply` makes
    it soft unless its status is about the address), anything else "soft"."""
    reply = f"{code or ''} {text or ''}".strip()
    return BounceReport(
        kind="hard" if code is not None and 500 <= code < 600 else "soft",
        recipient=recipient,
        token=token,
        status=status_in(reply) or (f"{code // 100}.0.0" if code else ""),
        diagnostic=reply,
        source="smtp",
    )


def _settings():
    return current_app.config["ENGAGE"]


def _subscriber_for(session: Session, address: str | None) -> tuple[Subscriber | None, str | None]:
    """(subscriber, email hash) for an address; the hash even when nobody has it."""
    if not address:
        return None, None
    try:
        normalised = normalise_email(address)
    except InvalidAddress:
        return None, None
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == normalised))
    if subscriber is not None:
        return subscriber, subscriber.email_hash
    return None, address_hash(normalised)


@dataclass
class _Target:
    delivery: Delivery | None = None
    outbox_id: int | None = None
    subscriber: Subscriber | None = None
    email_hash: str | None = None


def _target(session: Session, report: BounceReport) -> _Target:
    target = _Target()
    token = report.token
    if token is not None and token.kind == DELIVERY:
        target.delivery = session.get(Delivery, token.id)
        if target.delivery is not None:
            target.subscriber = session.get(Subscriber, target.delivery.subscriber_id)
            if target.subscriber is not None:
                target.email_hash = target.subscriber.email_hash
                return target
    elif token is not None and token.kind == OUTBOX:
        row = session.get(OutboxMessage, token.id)
        if row is not None:
            target.outbox_id = row.id
            if row.recipient:
                target.subscriber, target.email_hash = _subscriber_for(session, row.recipient)
                if target.email_hash:
                    return target
        else:
            target.outbox_id = token.id  # purged since; the id is still never reused
    # No row (or it no longer names anybody): the address the report names.
    target.subscriber, target.email_hash = _subscriber_for(session, report.recipient)
    return target


def _duplicate(session: Session, report: BounceReport, target: _Target, kind: Kind) -> bool:
    checks = []
    if report.event_id:
        checks.append(
            select(BounceEvent.id).where(
                BounceEvent.source == report.source, BounceEvent.event_id == report.event_id
            )
        )
    if target.delivery is not None:
        checks.append(
            select(BounceEvent.id).where(
                BounceEvent.delivery_id == target.delivery.id, BounceEvent.kind == kind
            )
        )
    if target.outbox_id is not None:
        checks.append(
            select(BounceEvent.id).where(
                BounceEvent.outbox_id == target.outbox_id, BounceEvent.kind == kind
            )
        )
    return any(session.scalar(check.limit(1)) is not None for check in checks)


def _soft_bounces(session: Session, email_hash: str, since: datetime) -> int:
    return session.scalar(
        select(func.count()).where(
            BounceEvent.email_hash == email_hash,
            BounceEvent.kind == "soft",
            BounceEvent.occurred_at >= since,
        )
    )


def _shut_out(session: Session, target: _Target, reason: str, now: datetime) -> None:
    if target.subscriber is not None:
        unsubscribe(session, target.subscriber, now)
    if target.email_hash:
        suppress(session, target.email_hash, reason)


def apply(session: Session, report: BounceReport, *, now: datetime | None = None):
    """Record `report` and act on it (see the module's rules); returns the new `BounceEvent`,
    or None when it changed nothing: a duplicate, or nobody we can name.

    Flushes, never commits. Safe against a second worker recording the same report at the
    same moment: the unique constraints decide, and the loser returns None.
    """
    now = now or utcnow()
    kind = classify(report.kind, report.status)
    if kind not in BOUNCE_KINDS:
        raise ValueError(f"unknown bounce kind {report.kind!r}")
    target = _target(session, report)
    if target.email_hash is None and target.delivery is None:
        log.info("bounce report (%s) names nobody we know; ignored", report.source)
        return None
    if _duplicate(session, report, target, kind):
        return None
    event = BounceEvent(
        delivery_id=target.delivery.id if target.delivery is not None else None,
        outbox_id=target.outbox_id,
        subscriber_id=target.subscriber.id if target.subscriber is not None else None,
        email_hash=target.email_hash,
        kind=kind,
        status=(report.status or "")[:16],
        diagnostic=redact_addresses(" ".join((report.diagnostic or "").split()))[:DIAGNOSTIC_LIMIT],
        source=(report.source or "")[:16],
        event_id=(report.event_id or None) and report.event_id[:200],
        occurred_at=report.occurred_at or now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return None  # recorded by someone else a moment ago
    if target.delivery is not None and _RANK[kind] > _RANK.get(target.delivery.bounce, 0):
        target.delivery.bounce = kind
    who = mask_address(report.recipient or "") if report.recipient else "a reader"
    if kind == "complaint":
        _shut_out(session, target, "complaint", now)
        log.warning("%s complained (%s): unsubscribed and suppressed", who, report.source)
    elif kind == "hard":
        if target.subscriber is not None:
            target.subscriber.hard_bounces += 1
        _shut_out(session, target, "bounced", now)
        log.warning("%s bounced (%s %s): suppressed", who, report.source, event.status)
    elif target.email_hash:
        settings = _settings()
        since = now - timedelta(days=settings.bounce_soft_days)
        if _soft_bounces(session, target.email_hash, since) >= settings.bounce_soft_limit:
            _shut_out(session, target, "bounced", now)
            log.warning("%s suppressed after repeated soft bounces", who)
    session.flush()
    return event


# --- what staff and the reader see -----------------------------------------------------------


def counts_for(session: Session, which) -> dict[str, int]:
    """Bounces and complaints reported about one send's messages (`which`: a SQL condition on
    delivery rows, a producer's), however they arrived: {"hard", "soft", "complaints"}, each
    the number of messages with such a report."""
    rows = session.execute(
        select(BounceEvent.kind, func.count(func.distinct(BounceEvent.delivery_id)))
        .join(Delivery, Delivery.id == BounceEvent.delivery_id)
        .where(which)
        .group_by(BounceEvent.kind)
    ).all()
    found = dict(rows)
    return {
        "hard": found.get("hard", 0),
        "soft": found.get("soft", 0),
        "complaints": found.get("complaint", 0),
    }


def history(session: Session, subscriber_id: int, email_hash: str | None = None, limit: int = 200):
    """A reader's bounce events, newest first: by subscriber id, and by the hash of their
    address for reports that named the address before it belonged to a subscriber. Only the
    date, kind, status and source: what a reader or an editor may see (the server's words can
    quote other addresses)."""
    who = BounceEvent.subscriber_id == subscriber_id
    if email_hash:
        who = who | (BounceEvent.email_hash == email_hash)
    events = session.scalars(
        select(BounceEvent).where(who).order_by(BounceEvent.occurred_at.desc()).limit(limit)
    )
    return [
        {
            "occurred_at": event.occurred_at,
            "kind": event.kind,
            "status": event.status,
            "source": event.source,
        }
        for event in events
    ]


def forget(session: Session, subscriber_id: int, email_hash: str | None) -> int:
    """Delete a reader's bounce events (erasure); the suppression list keeps its own hash."""
    who = BounceEvent.subscriber_id == subscriber_id
    if email_hash:
        who = who | (BounceEvent.email_hash == email_hash)
    return session.execute(delete(BounceEvent).where(who)).rowcount or 0
