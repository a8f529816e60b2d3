"""Private joining details: what a listing keeps off public pages, and a reader's request for it.

An organiser can mark a listing's joining details private (an event's online link is private
unless they say otherwise). Those fields then never reach a public page, a feed, an .ics file,
a newsletter block or a digest: everything public reads them through `public_value`. A reader
who wants them gives an address on the listing's page and gets them by email.

Nothing is kept about the request: the email goes through the outbox (whose row is emptied
once the message is accepted, see engage.community.emails), and the only other trace is a
rate-limit counter keyed by a keyed hash of the address. The page answers the same for every
address, whether it got the email or was over its limit, so nobody learns who asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse_many

from engage.community.models import Event, SupportGroup
from engage.extensions import limiter
from engage.subscriptions.service import address_hash, is_suppressed

Listing = SupportGroup | Event

# Emails one address can be sent, whatever listings it asks about: enough for a reader, too
# few to flood someone's inbox with requests made in their name.
ADDRESS_LIMIT = "3 per hour;10 per day"
# Notices one organiser gets about one listing: told that people ask, never flooded.
NOTICE_LIMIT = "3 per day"

# The joining fields of each kind, with the flag that makes each private and its label.
FIELDS = {
    SupportGroup: (
        ("how_to_join", "how_to_join_private", "How to join"),
        ("contact", "contact_private", "Contact"),
    ),
    Event: (
        ("location", "location_private", "Place"),
        ("online_url", "online_url_private", "Online link"),
    ),
}


@dataclass(frozen=True)
class Detail:
    label: str
    value: str


def is_private(listing: Listing, field: str) -> bool:
    """Whether `field` of the listing is kept off public pages (and is filled in)."""
    for name, flag, _label in FIELDS[type(listing)]:
        if name == field:
            return bool(getattr(listing, name)) and bool(getattr(listing, flag))
    return False


def public_value(listing: Listing, field: str) -> str:
    """The field as a public page, feed or email to many may show it: empty when private."""
    return "" if is_private(listing, field) else (getattr(listing, field) or "")


def private_details(listing: Listing) -> list[Detail]:
    """The private joining details that are filled in, in the order a reader needs them."""
    return [
        Detail(label, getattr(listing, name))
        for name, _flag, label in FIELDS[type(listing)]
        if is_private(listing, name)
    ]


def _hit(limit: str, *key: str) -> bool:
    """Count one against `limit` for `key`; False once any of its windows is full."""
    items = parse_many(limit)
    if not all(limiter.limiter.test(item, *key) for item in items):
        return False
    for item in items:
        limiter.limiter.hit(item, *key)
    return True


def may_send_details(session, address: str) -> bool:
    """Whether a request for `address` (normalised) may be answered now; counts it if so.

    False for an address on the suppression list (it bounced or complained) and once the
    address's limit is reached. The caller shows the same page either way.
    """
    if is_suppressed(session, address):
        return False
    return _hit(ADDRESS_LIMIT, "joining-details", address_hash(address))


def may_notify_organiser(listing: Listing) -> bool:
    """Whether the organiser wants to hear of requests and is not over today's notices."""
    if not (listing.notify_requests and listing.organiser_email):
        return False
    if listing.organiser_confirmed_at is None:
        return False
    kind = "g" if isinstance(listing, SupportGroup) else "e"
    return _hit(NOTICE_LIMIT, "joining-notice", f"{kind}{listing.id}")
