"""The emails a subscriber gets about their subscription: one function per email returning
its context, and the `queue_*` helpers that send them after the transaction commits."""

from __future__ import annotations

from flask import current_app

from engage.mail.message import bulk_headers
from engage.mail.service import queue_email
from engage.sending import outbox
from engage.subscriptions import service
from engage.subscriptions.models import Consent, Subscriber
from engage.tokens import derived_link_key, make_link_token
from engage.urls import external_url


def unsubscribe_url(subscriber: Subscriber) -> str:
    return external_url("subscriptions.unsubscribe", unsubscribe_id=subscriber.unsubscribe_id)


def digest_unsubscribe_url(subscriber: Subscriber) -> str:
    """The digest's one-click link: stops the digest only (`/u/<id>?list=digest`)."""
    return external_url(
        "subscriptions.unsubscribe", unsubscribe_id=subscriber.unsubscribe_id, list="digest"
    )


def subscriber_link_key(subscriber) -> str:
    """The key in every signed link to a subscriber: derived from their random unsubscribe id,
    so a row with just `id` and `unsubscribe_id` (what the send pipeline loads) is enough, and
    a new unsubscribe id (`service.revoke_links`) voids every earlier link."""
    return derived_link_key(subscriber.unsubscribe_id)


def preferences_url(subscriber) -> str:
    """The preference centre's link for a Subscriber, or a row with `id` and `unsubscribe_id`."""
    token = make_link_token("preferences", {"s": subscriber.id}, subscriber_link_key(subscriber))
    return external_url("subscriptions.preferences", token=token)


def list_id(digest: bool = False) -> str:
    """The List-Id (RFC 2919) of the newsletters, or of the digest, a list of its own."""
    settings = current_app.config["ENGAGE"]
    if digest:
        return f"{settings.site_name} digest <digest.{settings.list_id_domain}>"
    return f"{settings.site_name} <news.{settings.list_id_domain}>"


def list_headers(subscriber: Subscriber, digest: bool = False) -> dict[str, str]:
    """RFC 2369/8058 headers for mail a subscriber gets as a list member. The digest is a
    list of its own: its one-click unsubscribe stops the digest only."""
    url = digest_unsubscribe_url(subscriber) if digest else unsubscribe_url(subscriber)
    return bulk_headers(list_id(digest), url)


def subscription_confirm(subscriber: Subscriber, consent: Consent) -> dict:
    """Double opt-in: the link opens a page whose button confirms."""
    token = make_link_token(
        "confirm", {"s": subscriber.id, "c": consent.id}, subscriber_link_key(subscriber)
    )
    return {
        "confirm_url": external_url("subscriptions.confirm", token=token),
        "hours": current_app.config["ENGAGE"].confirm_max_age_hours,
    }


def subscription_welcome(subscriber: Subscriber) -> dict:
    """Sent once the address is confirmed: what they will get and how to change it."""
    return {
        "topics": sorted(t.name for t in subscriber.topics),
        "digest": subscriber.digest,
        "unsubscribe_url": unsubscribe_url(subscriber),
        "preferences_url": preferences_url(subscriber),
    }


def subscription_already(subscriber: Subscriber) -> dict:
    """Someone signed up with an address that is already confirmed: send its owner the
    preferences link instead of changing anything."""
    return {"preferences_url": preferences_url(subscriber)}


def queue_confirmation(subscriber: Subscriber, consent: Consent) -> None:
    queue_email("subscription_confirm", subscriber.email, subscription_confirm(subscriber, consent))


def queue_welcome(subscriber: Subscriber) -> None:
    queue_email(
        "subscription_welcome",
        subscriber.email,
        subscription_welcome(subscriber),
        headers=list_headers(subscriber),
    )


def queue_already_subscribed(subscriber: Subscriber) -> None:
    queue_email("subscription_already", subscriber.email, subscription_already(subscriber))


def queue_signup_email(outcome) -> None:
    """Queue what a sign-up (`service.SignUp`) decided the address gets, if anything."""
    if outcome.email_to_send == "confirm":
        queue_confirmation(outcome.subscriber, outcome.consent)
    elif outcome.email_to_send == "already_subscribed":
        queue_already_subscribed(outcome.subscriber)


@outbox.after_sent("subscription_confirm")
def _confirmation_accepted(session, row) -> None:
    service.confirmation_accepted(session, row.recipient)


@outbox.after_failed("subscription_confirm")
def _confirmation_failed(session, row) -> None:
    service.confirmation_failed(session, row.recipient)
