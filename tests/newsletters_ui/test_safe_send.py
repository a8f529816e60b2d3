"""A safe send: the confirmation step, "Starting…", duplicate and delete, and each send's report
(page, CSV and API), from the editor's side and with a real send through the SMTP server."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engage.accounts.service import create_api_key, create_user
from engage.core.spreadsheet import safe_cell
from engage.newsletters import report
from engage.newsletters.models import Newsletter
from engage.sending import bounces
from engage.sending.models import Delivery
from engage.sending.verp import DELIVERY, VerpToken
from engage.subscriptions.models import Subscriber, Suppression
from engage.subscriptions.service import unsubscribe
from engage.types import utcnow
from tests.newsletters_ui.conftest import (
    PASSWORD,
    build_subscriber,
    form_post,
    sign_in,
    token_from,
)


def readers_figure(page: str) -> int:
    match = re.search(r'<strong data-figure="readers">(\d+)</strong>', page)
    assert match, "the confirmation names no number of readers"
    return int(match.group(1))


@pytest.fixture
def audience(topics, db):
    """Readers across both topics: 4 reached (one of them in both topics, counted once) and
    5 who are not (pending, unsubscribed, suppressed, another topic only, no topic)."""
    news, groups = topics["newsletter"], topics["groups-news"]
    from tests.newsletters.conftest import add_topic

    other = add_topic(db.session, "other-news")
    reached = [
        build_subscriber(db.session, [news]),
        build_subscriber(db.session, [news]),
        build_subscriber(db.session, [groups]),
        build_subscriber(db.session, [news, groups]),
    ]
    build_subscriber(db.session, [news], status="pending")
    build_subscriber(db.session, [groups], status="unsubscribed")
    suppressed = build_subscriber(db.session, [news, groups])
    db.session.add(Suppression(email_hash=suppressed.email_hash, reason="bounced"))
    build_subscriber(db.session, [other])
    build_subscriber(db.session, [])
    db.session.commit()
    return reached


# --- the confirmation step ----------------------------------------------------------------


def test_send_now_asks_first_with_the_topics_and_the_exact_number(
    editor_client, make_newsletter, topics, audience, db
):
    newsletter = make_newsletter(
        subject="Winter meetings", topics=[topics["newsletter"], topics["groups-news"]]
    )
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}")
    text = page.get_data(as_text=True)
    assert f'href="/admin/newsletters/{newsletter.id}/send-now"' in text
    assert "Send now to 4 subscribers…" in text

    confirm = editor_client.get(f"/admin/newsletters/{newsletter.id}/send-now")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Send this newsletter now?" in text
    assert "The newsletter, News about support groups" in text
    assert "Winter meetings" in text
    assert readers_figure(text) == 4
    assert ">Send now to 4 readers</button>" in text
    db.session.refresh(newsletter)
    assert newsletter.status == "draft"  # showing the page changed nothing


def test_schedule_asks_first_with_the_time_in_the_editors_zone(
    editor_client, make_newsletter, audience, db
):
    newsletter = make_newsletter(subject="Spring walk")
    url = f"/admin/newsletters/{newsletter.id}/schedule"
    confirm = editor_client.get(
        url, query_string={"date": "2030-01-15", "time": "09:00", "timezone": "Europe/Paris"}
    )
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Schedule this newsletter?" in text
    assert "<strong>Tuesday 15 January 2030, 09:00</strong> (Europe/Paris)" in text
    assert "15 January 2030, 08:00 UTC" in text
    assert readers_figure(text) == 3  # the newsletter topic only: 3 of the 4
    db.session.refresh(newsletter)
    assert newsletter.status == "draft"

    response = editor_client.post(
        url,
        data={
            "csrf_token": token_from(text),
            "readers": "3",
            "date": "2030-01-15",
            "time": "09:00",
            "timezone": "Europe/Paris",
        },
    )
    assert response.status_code == 303
    db.session.refresh(newsletter)
    assert newsletter.status == "scheduled"


def test_a_bad_schedule_time_shows_the_form_again_with_the_error(
    editor_client, make_newsletter, audience
):
    newsletter = make_newsletter()
    response = editor_client.get(
        f"/admin/newsletters/{newsletter.id}/schedule",
        query_string={"date": "2020-01-15", "time": "09:00", "timezone": "UTC"},
    )
    assert response.status_code == 422
    assert "That time has passed." in response.get_data(as_text=True)


def test_zero_readers_is_refused_with_the_reason_and_no_button(
    editor_client, make_newsletter, topics, db
):
    build_subscriber(db.session, [topics["newsletter"]], status="pending")
    db.session.commit()
    newsletter = make_newsletter()
    url = f"/admin/newsletters/{newsletter.id}/send-now"
    text = editor_client.get(url).get_data(as_text=True)
    assert readers_figure(text) == 0
    assert "no confirmed reader is subscribed to" in text
    assert "<button" not in text.split('id="confirm-heading"')[1].split("</section>")[0]

    # A POST anyway (an old tab, a crafted form) is refused the same way.
    token = token_from(editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(True))
    response = editor_client.post(url, data={"csrf_token": token})
    assert response.status_code == 422
    assert "no confirmed reader is subscribed to" in response.get_data(as_text=True)
    db.session.refresh(newsletter)
    assert newsletter.status == "draft"


def test_a_changed_number_asks_again(editor_client, make_newsletter, audience, topics, db):
    newsletter = make_newsletter()
    url = f"/admin/newsletters/{newsletter.id}/send-now"
    text = editor_client.get(url).get_data(as_text=True)
    build_subscriber(db.session, [topics["newsletter"]])  # a reader confirms meanwhile
    db.session.commit()
    response = editor_client.post(url, data={"csrf_token": token_from(text), "readers": "3"})
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "The number of readers changed" in text and readers_figure(text) == 4
    db.session.refresh(newsletter)
    assert newsletter.status == "draft"


def test_a_double_submit_sends_once(
    editor_client, make_newsletter, audience, db, tasks, smtp_server
):
    smtp_server.reset()
    newsletter = make_newsletter(topics=list(audience[0].topics))  # the newsletter topic: 3
    url = f"/admin/newsletters/{newsletter.id}/send-now"
    text = editor_client.get(url).get_data(as_text=True)
    form = {"csrf_token": token_from(text), "readers": str(readers_figure(text))}
    first = editor_client.post(url, data=form)
    second = editor_client.post(url, data=form)  # the same form again: a double click
    assert first.status_code == second.status_code == 303
    page = editor_client.get(second.headers["Location"]).get_data(as_text=True)
    assert "already being sent. Nothing more was done." in page
    tasks.run()
    # And once more after it started: still nothing more.
    editor_client.post(url, data=form)
    tasks.run()

    db.session.expire_all()
    rows = db.session.scalar(select(func.count()).where(Delivery.newsletter_id == newsletter.id))
    assert rows == 3
    received = smtp_server.wait_for(3)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        s.email for s in audience if newsletter.topics[0] in s.topics
    )
    assert db.session.get(Newsletter, newsletter.id).status == "sent"


def test_the_page_says_starting_until_the_audience_is_snapshotted(
    editor_client, make_newsletter, audience, db, tasks
):
    newsletter = make_newsletter()
    url = f"/admin/newsletters/{newsletter.id}/send-now"
    text = editor_client.get(url).get_data(as_text=True)
    response = editor_client.post(url, data={"csrf_token": token_from(text)})
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>Starting…</strong>" in page
    assert '<h2 id="progress-heading">Starting…</h2>' in page
    assert 'data-status="scheduled"' in page  # the script polls and reloads when it starts
    assert "0 recipients" not in page and "0 of 0" not in page
    assert 'id="nl-progress-bar"' not in page

    tasks.run()
    db.session.expire_all()
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert "Starting…" not in page
    assert "3 recipients when sending started." in page


# --- duplicate and delete -----------------------------------------------------------------


def test_duplicate_makes_a_new_draft(editor_client, make_newsletter, db, topics):
    sent = make_newsletter(subject="Autumn news", status="sent", finished_at=utcnow())
    page_url = f"/admin/newsletters/{sent.id}"
    response = form_post(editor_client, f"{page_url}/duplicate", {}, page_url=page_url)
    assert response.status_code == 303
    copy_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert copy_id != sent.id
    copy = db.session.get(Newsletter, copy_id)
    assert (copy.subject, copy.status) == ("Copy of Autumn news", "draft")
    assert copy.body_markdown == sent.body_markdown
    assert [t.slug for t in copy.topics] == [t.slug for t in sent.topics]
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This is a copy, saved as a draft. Nothing was sent." in page
    db.session.refresh(sent)
    assert sent.status == "sent"


def test_a_draft_is_deleted_after_a_confirmation(editor_client, make_newsletter, db):
    draft = make_newsletter(subject="Not this one")
    page_url = f"/admin/newsletters/{draft.id}"
    assert f'href="{page_url}/delete"' in editor_client.get(page_url).get_data(as_text=True)
    confirm = editor_client.get(f"{page_url}/delete").get_data(as_text=True)
    assert "Delete this draft?" in confirm and "Not this one" in confirm
    assert db.session.get(Newsletter, draft.id) is not None  # asking deleted nothing
    response = editor_client.post(f"{page_url}/delete", data={"csrf_token": token_from(confirm)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/newsletters")
    page = editor_client.get("/admin/newsletters").get_data(as_text=True)
    assert "“Not this one” was deleted." in page
    db.session.expire_all()
    assert db.session.get(Newsletter, draft.id) is None


@pytest.mark.parametrize("status", ["scheduled", "sending", "sent", "cancelled"])
def test_only_drafts_can_be_deleted(editor_client, make_newsletter, db, status):
    newsletter = make_newsletter(status=status, scheduled_at=utcnow() + timedelta(days=1))
    page_url = f"/admin/newsletters/{newsletter.id}"
    page = editor_client.get(page_url).get_data(as_text=True)
    assert f'href="{page_url}/delete"' not in page
    response = form_post(editor_client, f"{page_url}/delete", {}, page_url=page_url)
    assert response.status_code == 303
    page = editor_client.get(page_url).get_data(as_text=True)
    assert "only a draft can be deleted" in page
    db.session.expire_all()
    assert db.session.get(Newsletter, newsletter.id).status == status


# --- roles ----------------------------------------------------------------------------------


NEW_GETS = ["send-now", "delete", "report", "report.csv"]


@pytest.mark.parametrize("path", NEW_GETS)
def test_the_new_pages_send_visitors_to_the_login(client, make_newsletter, path):
    newsletter = make_newsletter()
    response = client.get(f"/admin/newsletters/{newsletter.id}/{path}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", NEW_GETS)
def test_the_new_pages_are_for_editors(client, db, make_newsletter, path):
    newsletter = make_newsletter()
    sign_in(client, create_user(db.session, "mod@example.org", PASSWORD, "moderator"))
    assert client.get(f"/admin/newsletters/{newsletter.id}/{path}").status_code == 403


def test_a_moderator_cannot_duplicate_delete_or_send(client, db, make_newsletter):
    newsletter = make_newsletter()
    sign_in(client, create_user(db.session, "mod@example.org", PASSWORD, "moderator"))
    token = token_from(client.get("/login").get_data(as_text=True))
    for action in ("duplicate", "delete", "send-now"):
        response = client.post(
            f"/admin/newsletters/{newsletter.id}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 403, action
    assert db.session.scalar(select(func.count()).select_from(Newsletter)) == 1


# --- the send's report ----------------------------------------------------------------------


@pytest.fixture
def sent_with_problems(editor_client, make_newsletter, topics, db, tasks, smtp_server):
    """A real send to 4 readers: one refused with a 5xx, one whose message later bounced
    (a DSN), one who unsubscribed the next day, one fine."""
    smtp_server.reset()
    news = topics["newsletter"]
    readers = [build_subscriber(db.session, [news], email=f"rep{n}@example.org") for n in range(4)]
    db.session.commit()
    smtp_server.refuse_recipient("rep0@example.org", "550 5.1.1 =cmd|' /C calc'!A0 no such user")
    newsletter = make_newsletter(subject="Report me")
    url = f"/admin/newsletters/{newsletter.id}/send-now"
    text = editor_client.get(url).get_data(as_text=True)
    editor_client.post(url, data={"csrf_token": token_from(text), "readers": "4"})
    tasks.run()
    smtp_server.wait_for(3)
    db.session.expire_all()
    by_reader = {
        row.subscriber_id: row
        for row in db.session.scalars(
            select(Delivery).where(Delivery.newsletter_id == newsletter.id)
        )
    }
    later = bounces.BounceReport(
        kind="soft",
        recipient="rep1@example.org",
        token=VerpToken(DELIVERY, by_reader[readers[1].id].id),
        status="4.2.2",
        diagnostic="452 4.2.2 rep1@example.org mailbox full",
        source="dsn",
    )
    assert bounces.apply(db.session, later) is not None
    unsubscribe(db.session, readers[2], by_reader[readers[2].id].sent_at + timedelta(days=1))
    db.session.commit()
    return newsletter


def test_the_report_counts_a_real_send(editor_client, sent_with_problems, db):
    newsletter = sent_with_problems
    show = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert f'href="/admin/newsletters/{newsletter.id}/report"' in show

    page = editor_client.get(f"/admin/newsletters/{newsletter.id}/report")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    figures = dict(re.findall(r'data-figure="([a-z-]+)">(\d+)<', text))
    assert figures == {
        "delivered": "3",
        "deferred": "0",
        "pending": "0",
        "failed": "1",
        "hard-bounces": "1",
        "soft-bounces": "1",
        "complaints": "0",
        "unsubscribes": "1",
    }
    # The problem rows: the refused one and the one that bounced later, addresses masked.
    table = text.split("<tbody>")[1].split("</tbody>")[0]
    assert table.count("<tr>") == 2
    assert "r•••@example.org" in table
    assert "rep0@" not in text and "rep1@" not in text
    assert "550 5.1.1" in table and "mailbox full" in table
    assert "Download all as CSV" in text


def test_the_report_csv_is_masked_and_safe_in_a_spreadsheet(editor_client, sent_with_problems):
    response = editor_client.get(f"/admin/newsletters/{sent_with_problems.id}/report.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == list(report.CSV_COLUMNS)
    assert len(rows) == 3
    refused, bounced = rows[1], rows[2]
    assert refused[:4] == ["r•••@example.org", "Failed", "hard", "1"]
    assert bounced[:3] == ["r•••@example.org", "Delivered", "soft"]
    assert "rep0@" not in response.get_data(as_text=True)
    assert "rep1@" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+44", "'+44"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("|cmd", "'|cmd"),
        ("\tx", "'\tx"),
        ("ok", "ok"),
        (None, ""),
    ],
)
def test_a_cell_that_would_be_a_formula_is_text(value, cell):
    assert safe_cell(value) == cell


def test_the_report_pages_its_problem_rows(editor_client, make_newsletter, topics, db):
    newsletter = make_newsletter(status="sent", started_at=utcnow(), finished_at=utcnow())
    readers = [build_subscriber(db.session, [topics["newsletter"]]) for _ in range(53)]
    db.session.add_all(
        Delivery(
            newsletter_id=newsletter.id,
            subscriber_id=reader.id,
            status="failed",
            bounce="hard",
            smtp_reply="550 no",
        )
        for reader in readers
    )
    db.session.commit()
    first = editor_client.get(f"/admin/newsletters/{newsletter.id}/report").get_data(True)
    assert first.split("<tbody>")[1].count("<tr>") == 50
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = editor_client.get(f"/admin/newsletters/{newsletter.id}/report?page=2").get_data(True)
    assert second.split("<tbody>")[1].count("<tr>") == 3
    assert editor_client.get(f"/admin/newsletters/{newsletter.id}/report?page=x").status_code == 200


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def editor_key(ctx, db):
    _key, secret = create_api_key(db.session, role="editor", name="desk")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_report(client, sent_with_problems, editor_key):
    response = client.get(
        f"/api/v1/newsletters/{sent_with_problems.id}/report?per_page=1", headers=editor_key
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["counts"] == {
        "total": 4,
        "delivered": 3,
        "deferred": 0,
        "pending": 0,
        "failed": 1,
        "skipped": 0,
        "hard_bounces": 1,
        "soft_bounces": 1,
        "complaints": 0,
        "unsubscribes": 1,
    }
    problems = data["problems"]
    assert (problems["total"], problems["pages"], len(problems["items"])) == (2, 2, 1)
    assert problems["items"][0]["address"] == "r•••@example.org"
    assert problems["items"][0]["bounce"] == "hard"
    assert problems["next"].endswith("page=2")
    assert "rep0" not in response.get_data(as_text=True)


def test_the_api_duplicates_and_deletes_drafts_only(client, make_newsletter, editor_key, db):
    sent = make_newsletter(subject="Old news", status="sent", finished_at=utcnow())
    response = client.post(f"/api/v1/newsletters/{sent.id}/duplicate", headers=editor_key)
    assert response.status_code == 201
    copy = response.get_json()
    assert (copy["subject"], copy["status"]) == ("Copy of Old news", "draft")

    refused = client.delete(f"/api/v1/newsletters/{sent.id}", headers=editor_key)
    assert refused.status_code == 409
    assert "cannot be deleted" in refused.get_data(as_text=True)
    deleted = client.delete(f"/api/v1/newsletters/{copy['id']}", headers=editor_key)
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/newsletters/{copy['id']}", headers=editor_key).status_code == 404
    db.session.expire_all()
    assert db.session.get(Newsletter, sent.id) is not None


def test_the_api_needs_an_editor_key(client, make_newsletter, db):
    newsletter = make_newsletter()
    _key, secret = create_api_key(db.session, role="moderator", name="mods")
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    assert (
        client.get(f"/api/v1/newsletters/{newsletter.id}/report", headers=headers).status_code
        == 403
    )
    assert client.delete(f"/api/v1/newsletters/{newsletter.id}", headers=headers).status_code == 403
    assert (
        client.post(f"/api/v1/newsletters/{newsletter.id}/duplicate", headers=headers).status_code
        == 403
    )


def test_the_api_still_sends_without_a_confirm_field(
    client, make_newsletter, audience, editor_key, db, tasks
):
    newsletter = make_newsletter()
    response = client.post(
        f"/api/v1/newsletters/{newsletter.id}/schedule", json={"send_at": "now"}, headers=editor_key
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "scheduled"
    tasks.run()
    db.session.expire_all()
    assert db.session.get(Newsletter, newsletter.id).status == "sent"


def test_unsubscribes_count_for_the_latest_send_within_the_window(make_newsletter, topics, db):
    news = topics["newsletter"]
    now = utcnow()
    first = make_newsletter(status="sent")
    second = make_newsletter(status="sent")
    left_after_second, left_late, left_after_first = (
        build_subscriber(db.session, [news]) for _ in range(3)
    )
    for reader, sends in (
        (left_after_second, [(first, 10), (second, 3)]),
        (left_late, [(first, 10)]),
        (left_after_first, [(first, 10)]),
    ):
        for newsletter, days_ago in sends:
            db.session.add(
                Delivery(
                    newsletter_id=newsletter.id,
                    subscriber_id=reader.id,
                    status="sent",
                    sent_at=now - timedelta(days=days_ago),
                )
            )
    db.session.flush()
    unsubscribe(db.session, left_after_second, now - timedelta(days=2))
    unsubscribe(db.session, left_late, now)  # 10 days after: not this send's doing
    unsubscribe(db.session, left_after_first, now - timedelta(days=9))
    db.session.flush()
    assert report.unsubscribes(db.session, first.id) == 1
    assert report.unsubscribes(db.session, second.id) == 1
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 3
