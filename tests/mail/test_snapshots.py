"""The plain-text part of every email, against a reviewed snapshot.

A change to an email's wording shows up here as a diff to read. Every folder in emails/ must
have a sample context below, so a new email cannot skip the review. Refresh after a deliberate
change with UPDATE_SNAPSHOTS=1.
"""

import os
from pathlib import Path

import pytest

from engage.mail.render import (
    EMAILS_DIR,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    placeholder,
    render_email,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
BASE = "https://news.example.org"

SAMPLES = {
    "digest": {
        "frequency": "weekly",
        "dateline": "1 December 2026",
        "view_url": f"{BASE}/digests/view/TOKEN",
        "groups": [
            {
                "name": "Harbour Lights Anxiety Group",
                "summary": "A peer-led group for people living with anxiety.",
                "schedule": "Tuesdays, 7pm",
                "url": f"{BASE}/groups/harbour-lights",
            }
        ],
        "events": [
            {
                "title": "Open evening",
                "when": "Thursday 4 December, 18:30 (Europe/London)",
                "where": "Harbour Community Centre",
                "url": f"{BASE}/events/open-evening",
            }
        ],
        "upcoming": [],
        "directory_url": f"{BASE}/groups",
        "unsubscribe_url": placeholder(UNSUBSCRIBE_URL),
        "preferences_url": placeholder(PREFERENCES_URL),
    },
    "test_message": {"recipient": "reader@example.org"},
    "subscription_confirm": {"confirm_url": f"{BASE}/confirm/TOKEN", "hours": 48},
    "subscription_welcome": {
        "topics": ["News about support groups", "The newsletter"],
        "digest": "weekly",
        "unsubscribe_url": f"{BASE}/u/OPAQUEID",
        "preferences_url": f"{BASE}/preferences/TOKEN",
    },
    "subscription_already": {"preferences_url": f"{BASE}/preferences/TOKEN"},
    "newsletter": {
        "newsletter_subject": "November: three new groups",
        "preheader": "And a talk on peer support",
        "content_mjml": "<mj-text><p>Hello,</p><p>Three new groups this month.</p></mj-text>",
        "content_text": "Hello,\n\nThree new groups this month.",
        "unsubscribe_url": placeholder(UNSUBSCRIBE_URL),
        "preferences_url": placeholder(PREFERENCES_URL),
    },
    "comment_moderation": {
        "comment_id": 7,
        "article_title": "What is a support group?",
        "author_name": "Sam",
        "text": "Thank you, this helped me find a group near me.",
        "needs_care": False,
        "flags": [],
        "approve_url": f"{BASE}/moderate/approve/TOKEN",
        "reject_url": f"{BASE}/moderate/reject/TOKEN",
        "queue_url": f"{BASE}/admin/comments/?tab=pending",
    },
    "comment_moderation_digest": {
        "items": [
            {
                "author_name": "Sam",
                "article_title": "What is a support group?",
                "text": "I have been feeling very low lately.",
                "needs_care": True,
                "flags": ["needs care"],
                "approve_url": f"{BASE}/moderate/approve/T1",
                "reject_url": f"{BASE}/moderate/reject/T1",
            }
        ],
        "queue_url": f"{BASE}/admin/comments/?tab=needs_care",
    },
    "comment_notify_confirm": {"confirm_url": f"{BASE}/replies/notifications/TOKEN"},
    "staff_submissions": {
        "items": [
            {"kind": "group", "title": "Harbour Lights Anxiety Group"},
            {"kind": "event", "title": "Open evening"},
        ],
        "review_url": f"{BASE}/admin/community",
    },
    "staff_failed_mail": {
        "total": 3,
        "by_email": [
            {"email": "comment_live", "count": 1},
            {"email": "subscription_confirm", "count": 2},
        ],
        "addresses": ["r•••@example.org", "s•••@example.net"],
        "failed_url": f"{BASE}/admin/mail/failed",
    },
    "comment_reply": {
        "article_title": "Online groups",
        "reply_author": "Alex",
        "text": "Same here. The Tuesday group was kind to me.",
        "parent_excerpt": "I was nervous before my first online meeting.",
        "permalink": f"{BASE}/articles/online-groups#c-12",
        "unsubscribe_url": f"{BASE}/replies/u/OPAQUEID",
    },
    "comment_live": {
        "article_title": "Online groups",
        "excerpt": "Same here. The Tuesday group was kind to me.",
        "permalink": f"{BASE}/articles/online-groups#c-12",
        "unsubscribe_url": f"{BASE}/replies/u/OPAQUEID",
    },
    "staff_invite": {
        "name": "Robin",
        "role": "moderator",
        "inviter": "Alex Admin",
        "invite_url": f"{BASE}/staff/invite/TOKEN",
        "hours": 72,
    },
    "comment_not_published": {
        "article_title": "Online groups",
        "article_url": f"{BASE}/articles/online-groups",
        "unsubscribe_url": f"{BASE}/replies/u/OPAQUEID",
    },
    "community_listing_confirm": {
        "kind": "group",
        "title": "Riverside Anxiety Peer Circle",
        "confirm_url": f"{BASE}/community/confirm/TOKEN",
        "days": 7,
    },
    "community_listing_approved": {
        "kind": "group",
        "title": "Riverside Anxiety Peer Circle",
        "public_url": f"{BASE}/groups/riverside-anxiety-peer-circle",
        "edit_url": f"{BASE}/community/edit/TOKEN",
    },
    "community_joining_details": {
        "kind": "event",
        "title": "Evening Light: online meeting",
        "public_url": f"{BASE}/events/evening-light-online-meeting",
        "details": [{"label": "Online link", "value": "https://meet.example.org/evening-light"}],
    },
    "community_joining_asked": {
        "kind": "group",
        "title": "After Loss Parents' Circle",
        "edit_url": f"{BASE}/community/edit/TOKEN",
    },
    "community_listing_rejected": {
        "kind": "event",
        "title": "Open evening",
        "reason": "The event has no date yet. Please add one and send it again.",
        "edit_url": f"{BASE}/community/edit/TOKEN",
    },
}


def email_names() -> list[str]:
    return sorted(p.name for p in EMAILS_DIR.iterdir() if (p / "body.txt").is_file())


def test_every_email_has_a_sample():
    assert sorted(SAMPLES) == email_names()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_text_part_matches_the_snapshot(ctx, name):
    rendered = render_email(name, SAMPLES[name])
    snapshot = SNAPSHOTS / f"{name}.email.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
    assert f"Subject: {rendered.subject}\n\n{rendered.text}" == snapshot.read_text(encoding="utf-8")
