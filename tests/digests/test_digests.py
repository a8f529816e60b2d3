"""Who is due, what each reader gets, shared renders, and the edition's rows (in a savepoint)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engage.community import digests
from engage.community.models import DigestRender
from engage.sending.models import Delivery
from engage.subscriptions import service as subscriptions
from engage.subscriptions.models import Subscriber
from tests.digests.conftest import add_event, add_group, add_reader, render_of

# Monday 30 November 2026, 09:00 UTC: after 08:00 in London (the default send hour).
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LAST_MONDAY = MONDAY - timedelta(days=7)


def run(session, frequency="weekly", now=MONDAY, **kwargs):
    return digests.run(session, frequency, now=now, dispatch=False, **kwargs)


def rows(session, edition_id):
    return session.scalar(select(func.count()).where(Delivery.digest_edition_id == edition_id))


def test_a_reader_who_joined_mid_week_gets_only_what_is_new_since(session):
    before = add_group(session, LAST_MONDAY + timedelta(days=1), name="Tuesday group")
    after = add_group(session, LAST_MONDAY + timedelta(days=3), name="Thursday group")
    event = add_event(
        session, LAST_MONDAY + timedelta(days=4), MONDAY + timedelta(days=3), title="Walk"
    )
    joined = add_reader(session, confirmed_at=LAST_MONDAY + timedelta(days=2))
    veteran = add_reader(session, confirmed_at=LAST_MONDAY - timedelta(days=30))

    result = run(session)

    assert result.queued == 2 and result.renders == 2
    text = render_of(session, joined).text
    assert after.name in text and event.title in text
    assert before.name not in text
    assert f"http://engage.test/groups/{after.slug}" in text
    assert before.name in render_of(session, veteran).text
    for reader in (joined, veteran):
        session.refresh(reader)
        assert reader.last_digest_at == MONDAY


def test_nothing_new_sends_nothing_and_still_moves_the_mark(session):
    add_group(session, LAST_MONDAY - timedelta(days=1))  # before the reader's last digest
    # Upcoming events alone are no reason to write.
    add_event(session, LAST_MONDAY - timedelta(days=2), MONDAY + timedelta(days=2))
    reader = add_reader(
        session, confirmed_at=LAST_MONDAY - timedelta(days=60), last_digest_at=LAST_MONDAY
    )

    result = run(session)

    assert (result.due, result.queued, result.empty) == (1, 0, 1)
    assert render_of(session, reader) is None
    session.refresh(reader)
    assert reader.last_digest_at == MONDAY


def test_a_rerun_sends_nothing_twice(session):
    add_group(session, MONDAY - timedelta(days=1))
    for _ in range(5):
        add_reader(session, confirmed_at=LAST_MONDAY)

    first = run(session, batch_size=2)
    again = run(session)
    later = run(session, now=MONDAY + timedelta(hours=5))

    assert first.queued == 5 and first.batches == 3
    assert again.edition_id == later.edition_id == first.edition_id
    assert (again.due, again.queued, later.due, later.queued) == (0, 0, 0, 0)
    assert rows(session, first.edition_id) == 5


def test_unsubscribed_erased_suppressed_and_unconfirmed_readers_get_nothing(session):
    add_group(session, MONDAY - timedelta(days=1))
    staying = add_reader(session, confirmed_at=LAST_MONDAY)
    leaving = add_reader(session, confirmed_at=LAST_MONDAY)
    erased = add_reader(session, confirmed_at=LAST_MONDAY)
    pending = add_reader(session, confirmed_at=None, status="pending")
    off = add_reader(session, confirmed_at=LAST_MONDAY, digest="off")
    subscriptions.unsubscribe(session, leaving)
    subscriptions.erase(session, erased)

    result = run(session)

    assert result.queued == 1
    delivered = session.scalars(
        select(Delivery.subscriber_id).where(Delivery.digest_edition_id == result.edition_id)
    ).all()
    assert delivered == [staying.id]
    assert pending.last_digest_at is None and off.last_digest_at is None


def test_interests_filter_what_each_reader_gets(session):
    now = MONDAY - timedelta(days=1)
    anxiety_leeds = add_group(session, now, name="Anxiety Leeds", purposes=["anxiety"])
    grief_york = add_group(
        session, now, name="Grief York", purposes=["bereavement"], region="North", city="York"
    )
    online = add_group(
        session, now, name="Online grief", purposes=["bereavement"], format="online", region=""
    )
    grief_event = add_event(
        session, now, MONDAY + timedelta(days=1), group=grief_york, title="Grief walk"
    )
    everything = add_reader(session, confirmed_at=LAST_MONDAY)
    grief = add_reader(session, confirmed_at=LAST_MONDAY, interests={"purposes": ["bereavement"]})
    leeds = add_reader(session, confirmed_at=LAST_MONDAY, interests={"regions": ["leeds"]})
    london = add_reader(
        session,
        confirmed_at=LAST_MONDAY,
        interests={"purposes": ["anxiety"], "regions": ["London"]},
    )

    result = run(session)

    def names(reader):
        render = render_of(session, reader)
        return render and {
            n
            for n in (anxiety_leeds.name, grief_york.name, online.name, grief_event.title)
            if n in render.text
        }

    all_four = {anxiety_leeds.name, grief_york.name, online.name, grief_event.title}
    assert names(everything) == all_four
    assert names(grief) == {grief_york.name, online.name, grief_event.title}
    assert names(leeds) == {anxiety_leeds.name, online.name}  # online is everywhere
    assert names(london) is None  # nothing for anxiety in London: no digest
    assert (result.queued, result.empty) == (3, 1)


def test_due_by_time_zone_and_frequency(session):
    add_group(session, MONDAY - timedelta(hours=12))
    since = LAST_MONDAY - timedelta(days=10)
    # 09:00 UTC: 08:00 has passed in London, not yet in New York (04:00); in Tokyo (18:00)
    # it has, so Tokyo's daily reader who had Sunday's digest is due again.
    london = add_reader(session, confirmed_at=since, timezone="Europe/London")
    new_york = add_reader(session, confirmed_at=since, timezone="America/New_York")
    tokyo_daily = add_reader(
        session,
        "daily",
        confirmed_at=since,
        timezone="Asia/Tokyo",
        last_digest_at=MONDAY - timedelta(days=1),
    )
    london_daily_done = add_reader(
        session,
        "daily",
        confirmed_at=since,
        timezone="Europe/London",
        last_digest_at=MONDAY - timedelta(minutes=30),  # 08:30 today: had today's
    )
    never = add_reader(session, confirmed_at=since, timezone="America/New_York", digest="daily")
    # New York's weekly reader had last week's on Monday: their Monday 08:00 is still to come.
    new_york.last_digest_at = LAST_MONDAY + timedelta(hours=13)
    session.flush()

    weekly = run(session, "weekly")
    daily = run(session, "daily")

    assert {d.subscriber_id for d in session.scalars(select(Delivery))} == {
        london.id,
        tokyo_daily.id,
        never.id,  # never had one: due at once
    }
    assert (weekly.period, daily.period) == ("2026-W49", "2026-11-30")
    assert render_of(session, london_daily_done) is None
    # New York's Monday 08:00 is 13:00 UTC.
    later = run(session, "weekly", now=MONDAY + timedelta(hours=4, minutes=1))
    assert later.queued == 1 and later.edition_id == weekly.edition_id
    assert render_of(session, new_york) is not None


def test_send_moments_follow_the_local_clock():
    # Weekly: the latest Monday 08:00 local; daily: the latest 08:00 local (DST-aware).
    assert digests.slot_start("weekly", "Europe/London", MONDAY, 8) == MONDAY.replace(hour=8)
    sunday = MONDAY - timedelta(hours=10)
    assert digests.slot_start("weekly", "UTC", sunday, 8) == LAST_MONDAY.replace(hour=8)
    summer = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)  # 08:30 BST
    assert digests.slot_start("daily", "Europe/London", summer, 8) == summer.replace(
        hour=7, minute=0
    )
    assert digests.slot_start("daily", "Not/AZone", summer, 8) == (
        summer - timedelta(days=1)
    ).replace(hour=8, minute=0)


def test_readers_who_would_see_the_same_share_one_render(session):
    add_group(session, MONDAY - timedelta(days=1), purposes=["anxiety"])
    add_group(session, MONDAY - timedelta(days=1), purposes=["bereavement"])
    for i in range(30):
        interests = [{}, {"purposes": ["anxiety"]}, {"purposes": ["bereavement", "anxiety"]}][i % 3]
        add_reader(session, confirmed_at=LAST_MONDAY - timedelta(hours=i), interests=interests)

    result = run(session, batch_size=7)

    assert result.queued == 30
    # {} and both purposes see both groups; anxiety alone sees one.
    assert result.renders == 2
    assert session.scalar(select(func.count()).select_from(DigestRender)) == 2
    assert (
        session.scalar(
            select(func.count(Delivery.digest_render_id.distinct())).where(
                Delivery.digest_edition_id == result.edition_id
            )
        )
        == 2
    )


def test_erasing_a_reader_removes_their_rows(session):
    add_group(session, MONDAY - timedelta(days=1))
    reader = add_reader(session, confirmed_at=LAST_MONDAY)
    result = run(session)
    subscriptions.erase(session, reader)
    assert rows(session, result.edition_id) == 0
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_an_address_stored_with_an_encoded_word_gets_no_digest(session):
    # Stored before such addresses were refused; servers decode it into another mailbox.
    add_group(session, MONDAY - timedelta(days=1))
    reader = add_reader(session, confirmed_at=LAST_MONDAY)
    legacy = add_reader(session, confirmed_at=LAST_MONDAY, email="=?utf-8?q?victim?=@example.org")

    result = run(session)

    assert (result.due, result.queued) == (1, 1)
    assert render_of(session, reader) is not None
    assert render_of(session, legacy) is None
