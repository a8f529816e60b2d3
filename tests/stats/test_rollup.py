"""The daily aggregate from real subscriber and bounce rows: right numbers, reruns change
nothing, and the beat task and the backfill agree."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engage.stats import rollup
from engage.stats.models import DailyStat
from engage.types import utcnow
from tests.stats import history

COLUMNS = (
    "signups",
    "confirmations",
    "unsubscribes",
    "bounces_hard",
    "bounces_soft",
    "complaints",
    "confirmed_total",
    "pending_total",
    "unsubscribed_total",
)


def stored(session) -> dict:
    session.expire_all()
    return {
        row.day: {name: getattr(row, name) for name in COLUMNS}
        for row in session.scalars(select(DailyStat).order_by(DailyStat.day))
    }


def noon(day):
    return history.at(day, 12)


def test_rebuild_gives_each_days_numbers_and_a_second_run_the_same(ctx, db):

    today = utcnow().date()
    expected = history.build(db.session, today)

    assert rollup.rebuild(db.session, now=noon(today)) == 4
    assert stored(db.session) == expected

    assert rollup.rebuild(db.session, now=noon(today)) == 4
    assert stored(db.session) == expected


def test_rollup_writes_today_and_yesterday_as_the_backfill_does_and_reruns_the_same(ctx, db):
    today = utcnow().date()
    expected = history.build(db.session, today)
    yesterday = today - timedelta(1)

    assert rollup.rollup(db.session, now=noon(today)) == [yesterday, today]
    assert stored(db.session) == {yesterday: expected[yesterday], today: expected[today]}
    rollup.rollup(db.session, now=noon(today))
    assert stored(db.session) == {yesterday: expected[yesterday], today: expected[today]}


def test_days_before_yesterday_keep_what_was_true_when_the_rollup_wrote_them(ctx, db):
    today = utcnow().date()
    expected = history.build(db.session, today)
    rollup.rebuild(db.session, now=noon(today))
    # A reader of three days ago is erased from the table; the beat task leaves that day be.
    ann = db.session.scalar(
        select(history.Subscriber).where(history.Subscriber.email_hash == "hash-ann")
    )
    db.session.delete(ann)
    db.session.flush()

    rollup.rollup(db.session, now=noon(today))
    first = today - timedelta(3)
    assert stored(db.session)[first] == expected[first]
    assert stored(db.session)[today]["confirmed_total"] == expected[today]["confirmed_total"] - 1


def test_the_rebuild_command_backfills_the_whole_history(app, committed):
    with app.app_context():
        today = utcnow().date()
        expected = history.build(committed.session, today)
        committed.session.commit()
        committed.session.remove()

    result = app.test_cli_runner().invoke(args=["stats", "rebuild"])
    assert "Recomputed 4 days of statistics." in result.output

    with app.app_context():
        assert stored(committed.session) == expected
        committed.session.remove()
