"""The check pipeline, rule by rule, in its order: the first check that decides ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engage.comments import checks, service
from engage.comments.models import ModerationAction
from engage.types import utcnow

TRUSTED = "trusted@example.org"


@pytest.fixture
def trusted(reply):
    """An address with two approved replies: past new-commenter pre-moderation."""
    reply(email=TRUSTED, status="approved", created_at=utcnow() - timedelta(days=20))
    reply(email=TRUSTED, status="approved", created_at=utcnow() - timedelta(days=19))
    return TRUSTED


@pytest.fixture
def no_premoderation(settings, monkeypatch):
    monkeypatch.setattr(settings, "comment_premoderation", False)


def actions(db, comment):
    return db.session.scalars(
        select(ModerationAction.action).where(ModerationAction.comment_id == comment.id)
    ).all()


# 1. Length and closed thread


@pytest.mark.parametrize(
    ("body", "name", "field"),
    [("", "Sam", "body"), ("   \n ", "Sam", "body"), ("x" * 5001, "Sam", "body"),
     ("Hello", "", "name"), ("Hello", "n" * 81, "name")],
)  # fmt: skip
def test_length_refuses_and_stores_nothing(post, db, body, name, field):
    with pytest.raises(service.ReplyError) as refused:
        post(body, name=name)
    assert refused.value.field == field


def test_a_closed_thread_refuses(post, article):
    article.comments_open = False
    with pytest.raises(service.ReplyError, match="closed"):
        post("Hello")


def test_a_bad_address_refuses(post):
    with pytest.raises(service.ReplyError) as refused:
        post("Hello", email="not an address")
    assert refused.value.field == "email"


# 2. Sanitise and count links


def test_markdown_is_sanitised_and_links_counted(post):
    posted = post("<script>alert(1)</script> [a](https://a.example) and [b](javascript:alert(1))")
    comment = posted.comment
    assert "<script>" not in comment.body_html and "&lt;script&gt;" in comment.body_html
    assert 'href="https://a.example"' in comment.body_html
    assert 'rel="nofollow ugc noopener"' in comment.body_html
    assert 'href="javascript:' not in comment.body_html  # shown as text, never a link
    assert comment.link_count == 1


# 3. Repeat post


def test_the_same_text_within_ten_minutes_is_the_same_reply(post, db):
    first = post("Thank you for this.").comment
    again = post("  thank you   FOR this. ")
    assert again.duplicate and again.comment.id == first.id


def test_the_same_text_after_ten_minutes_is_a_new_reply(post, db):
    first = post("Thank you for this.", now=utcnow() - timedelta(minutes=11)).comment
    assert post("Thank you for this.").comment.id != first.id


# 4. Staff auto-approve


def test_staff_are_approved_even_with_crisis_words(post, db):
    posted = post("Our group talks about suicide prevention.", staff=True)
    assert posted.comment.status == "approved"
    assert posted.decision.check == "staff"
    assert actions(db, posted.comment) == ["check:staff:approved"]


# 5. Banned words and banned addresses or domains


def test_banned_words_reject(post, db, settings, monkeypatch):
    monkeypatch.setattr(settings, "comment_banned_words", ("awfulword",))
    posted = post("This has an AwfulWord in it.")
    assert posted.comment.status == "rejected"
    assert actions(db, posted.comment) == ["check:banned-words:rejected"]


def test_banned_words_come_before_crisis(post, settings, monkeypatch):
    monkeypatch.setattr(settings, "comment_banned_words", ("awfulword",))
    assert post("awfulword, I want to die").comment.status == "rejected"


def test_a_banned_address_is_rejected_in_any_spelling(post, db):
    service.sanction_address(db.session, "Banned@Example.org", "ban")
    posted = post("Hello", email="banned@EXAMPLE.org")
    assert posted.comment.status == "rejected"
    assert posted.decision.check == "banned-address"


def test_a_banned_domain_covers_subdomains(post, db):
    service.set_domain_rule(db.session, "@spam.example", "ban")
    assert post("Hello", email="a@mail.spam.example").decision.check == "banned-domain"
    assert post("Hello", email="a@notspam.example").decision.check != "banned-domain"


# 6. Crisis language


@pytest.mark.parametrize(
    "body",
    ["I have been thinking about suicide.", "Some days I want to die.",
     "I started self-harm again", "i keep cutting   myself", "KILL MYSELF"],
)  # fmt: skip
def test_crisis_language_is_held_with_needs_care(post, db, trusted, no_premoderation, body):
    posted = post(body, email=trusted)
    assert posted.comment.status == "pending"
    assert posted.comment.flag_needs_care
    assert actions(db, posted.comment) == ["check:crisis:pending"]


def test_crisis_words_match_whole_words_only(post, trusted, no_premoderation):
    assert post("Suicidegirls is a band name? No: 'asuicide'.", email=trusted).comment.status == (
        "approved"
    )


def test_the_crisis_list_is_configurable(post, settings, monkeypatch, trusted, no_premoderation):
    monkeypatch.setattr(settings, "comment_crisis_words", ("hopeless",))
    assert post("I feel hopeless", email=trusted).comment.flag_needs_care
    assert post("I want to die", email=trusted).comment.status == "approved"


def test_crisis_language_is_never_published_even_after_an_edit(post, db, trusted, no_premoderation):
    comment = post("A calm reply.", email=trusted).comment
    assert comment.status == "approved"
    service.edit_reply(db.session, comment, "Actually I want to end my life.")
    assert comment.status == "pending" and comment.flag_needs_care


# 7. Suspect words


def test_suspect_words_are_held_and_flagged(post, trusted, no_premoderation):
    comment = post("Great casino bonus here", email=trusted).comment
    assert comment.status == "pending" and comment.flag_suspect and not comment.flag_needs_care


def test_crisis_comes_before_suspect(post, trusted, no_premoderation):
    comment = post("casino debts, I want to die", email=trusted).comment
    assert comment.flag_needs_care and not comment.flag_suspect


# 8. More than two links


def test_three_links_are_held(post, trusted, no_premoderation):
    links = " ".join(f"[l{i}](https://x{i}.example)" for i in range(3))
    comment = post(links, email=trusted).comment
    assert comment.status == "pending" and comment.flag_links and comment.link_count == 3


def test_two_links_pass(post, trusted, no_premoderation):
    links = " ".join(f"[l{i}](https://x{i}.example)" for i in range(2))
    assert post(links, email=trusted).comment.status == "approved"


# 9. Recent history


def test_thirty_percent_rejected_this_week_is_held(post, reply, trusted, no_premoderation):
    # 2 approved (from `trusted`, but 20 days old: outside the week) + this week's history
    for status in ("approved", "approved", "rejected"):
        reply(email=trusted, status=status, created_at=utcnow() - timedelta(days=2))
    posted = post("Hello again", email=trusted)
    assert posted.comment.status == "pending" and posted.decision.check == "history"


def test_old_rejections_do_not_count(post, reply, trusted, no_premoderation):
    reply(email=trusted, status="rejected", created_at=utcnow() - timedelta(days=8))
    assert post("Hello again", email=trusted).comment.status == "approved"


# 10. New commenter and pre-moderated addresses or domains


def test_a_new_commenter_is_held_until_two_approved(post, reply, no_premoderation):
    assert post("First", email="new@example.org").decision.check == "new-commenter"
    reply(email="new@example.org", status="approved", created_at=utcnow() - timedelta(days=9))
    assert post("Second", email="new@example.org").decision.check == "new-commenter"
    reply(email="new@example.org", status="approved", created_at=utcnow() - timedelta(days=9))
    assert post("Third", email="new@example.org").comment.status == "approved"


def test_a_premoderated_address_is_held(post, db, trusted, no_premoderation):
    service.sanction_address(db.session, trusted, "premoderate")
    assert post("Hello", email=trusted).decision.check == "premod-address"


def test_a_premoderated_domain_is_held(post, db, trusted, no_premoderation):
    service.set_domain_rule(db.session, "example.org", "premoderate")
    assert post("Hello", email=trusted).decision.check == "premod-domain"


# 11. Site-wide pre-moderation


def test_site_wide_premoderation_is_on_by_default(post, trusted, settings):
    assert settings.comment_premoderation is True
    posted = post("Hello", email=trusted)
    assert posted.comment.status == "pending" and posted.decision.check == "premoderation"


def test_without_premoderation_a_trusted_reply_is_published(post, db, trusted, no_premoderation):
    posted = post("Hello", email=trusted)
    assert posted.comment.status == "approved"
    assert actions(db, posted.comment) == ["check:passed:approved"]


# Every decision is an append-only action


def test_decisions_are_appended_never_rewritten(post, db, moderator):
    comment = post("Hello").comment
    service.moderate(db.session, comment, "approve", user_id=moderator.id)
    service.moderate(db.session, comment, "reject", reason="Off topic", user_id=moderator.id)
    rows = db.session.scalars(
        select(ModerationAction)
        .where(ModerationAction.comment_id == comment.id)
        .order_by(ModerationAction.id)
    ).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("system", "check:new-commenter:pending"),
        ("user", "approve"),
        ("user", "reject"),
    ]
    assert rows[2].reason == "Off topic" and rows[2].actor_user_id == moderator.id


def test_find_words_handles_phrases_and_case():
    assert checks.find_words("I Want  To Die", ("want to die",)) == "want  to die"
    assert checks.find_words("self-harm", ("self harm",)) == "self-harm"
    assert checks.find_words("nothing", ()) is None
