"""The emails an organiser gets about a listing: one function per email returning its context,
and `queue_*` helpers that send them after the transaction commits. All are transactional
(no list headers): they go to one organiser about their own listing, or to the one reader who
asked for a listing's joining details."""

from __future__ import annotations

from engage.community.joining import private_details
from engage.community.models import Event, SupportGroup
from engage.community.service import kind_of, listing_token, title_of
from engage.mail.service import queue_email
from engage.sending import outbox
from engage.tokens import PURPOSES
from engage.urls import external_url


def public_url(listing: SupportGroup | Event) -> str:
    if isinstance(listing, SupportGroup):
        return external_url("community.group", slug=listing.slug)
    return external_url("community.event", slug=listing.slug)


def edit_url(listing: SupportGroup | Event) -> str:
    return external_url("community.edit", token=listing_token("organiser-edit", listing))


def listing_confirm(listing: SupportGroup | Event) -> dict:
    """The organiser confirms their address: the link opens a page whose button confirms."""
    return {
        "kind": kind_of(listing),
        "title": title_of(listing),
        "confirm_url": external_url(
            "community.confirm", token=listing_token("organiser-verify", listing)
        ),
        "days": PURPOSES["organiser-verify"].max_age.days,
    }


def listing_approved(listing: SupportGroup | Event) -> dict:
    """It is listed: where, and the link to keep it up to date."""
    return {
        "kind": kind_of(listing),
        "title": title_of(listing),
        "public_url": public_url(listing),
        "edit_url": edit_url(listing),
    }


def listing_rejected(listing: SupportGroup | Event) -> dict:
    """Not listed (or unlisted), with the editor's reason and a link to change and resubmit."""
    return {
        "kind": kind_of(listing),
        "title": title_of(listing),
        "reason": listing.rejection_reason,
        "edit_url": edit_url(listing),
    }


def queue_confirmation(listing: SupportGroup | Event) -> None:
    if listing.organiser_email:
        queue_email("community_listing_confirm", listing.organiser_email, listing_confirm(listing))


def queue_approved(listing: SupportGroup | Event) -> None:
    if listing.organiser_email:
        queue_email(
            "community_listing_approved", listing.organiser_email, listing_approved(listing)
        )


def queue_rejected(listing: SupportGroup | Event) -> None:
    if listing.organiser_email:
        queue_email(
            "community_listing_rejected", listing.organiser_email, listing_rejected(listing)
        )


def joining_details(listing: SupportGroup | Event) -> dict:
    """A reader asked for the joining details the organiser keeps private: here they are."""
    return {
        "kind": kind_of(listing),
        "title": title_of(listing),
        "public_url": public_url(listing),
        "details": [
            {"label": detail.label, "value": detail.value} for detail in private_details(listing)
        ],
    }


def joining_asked(listing: SupportGroup | Event) -> dict:
    """The organiser's notice that someone asked: which listing, never who."""
    return {"kind": kind_of(listing), "title": title_of(listing), "edit_url": edit_url(listing)}


def queue_joining_details(listing: SupportGroup | Event, address: str) -> None:
    queue_email("community_joining_details", address, joining_details(listing))


def queue_joining_asked(listing: SupportGroup | Event) -> None:
    if listing.organiser_email:
        queue_email("community_joining_asked", listing.organiser_email, joining_asked(listing))


@outbox.after_sent("community_joining_details")
@outbox.after_failed("community_joining_details")
def _forget_reader(session, row) -> None:
    # The reader's address and the details were only needed to send this one message: the
    # row stays (the relay and staff see it was handled) without either.
    row.recipient = None
    row.args = []
    row.kwargs = {}
