"""The newsletter's own pages: roles, preview, schedule, missed, progress, results."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest

from engage.accounts.service import create_user
from engage.newsletters.views import local_to_utc
from engage.types import utcnow
from tests.newsletters_ui.conftest import PASSWORD, build_deliveries, form_post, sign_in

# --- roles --------------------------------------------------------------------------------


ADMIN_GETS = [
    "/admin/newsletters",
    "/admin/newsletters/new",
    "/admin/newsletters/{id}",
    "/admin/newsletters/{id}/edit",
    "/admin/newsletters/{id}/preview",
    "/admin/newsletters/{id}/preview.html",
    "/admin/newsletters/{id}/preview.txt",
    "/admin/newsletters/{id}/progress.json",
    "/admin/newsletters/audience.json",
    "/admin/newsletters/blocks/articles.json",
]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_signed_out_visitors_are_sent_to_the_login(client, make_newsletter, path):
    newsletter = make_newsletter()
    response = client.get(path.format(id=newsletter.id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_moderators_get_the_403_page(client, db, make_newsletter, path):
    newsletter = make_newsletter()
    sign_in(client, create_user(db.session, "mod@example.org", PASSWORD, "moderator"))
    response = client.get(path.format(id=newsletter.id))
    assert response.status_code == 403
    assert "You do not have permission to do that." in response.get_data(as_text=True)


def test_a_moderator_cannot_post_either(client, db, make_newsletter):
    newsletter = make_newsletter()
    sign_in(client, create_user(db.session, "mod@example.org", PASSWORD, "moderator"))
    token_page = client.get("/login").get_data(as_text=True)
    from tests.newsletters_ui.conftest import token_from

    response = client.post(
        f"/admin/newsletters/{newsletter.id}/send-now", data={"csrf_token": token_from(token_page)}
    )
    assert response.status_code == 403


def test_forms_need_their_csrf_token(editor_client, make_newsletter):
    newsletter = make_newsletter()
    for action in ("send-now", "schedule", "cancel", "test", "edit"):
        response = editor_client.post(f"/admin/newsletters/{newsletter.id}/{action}")
        assert response.status_code == 400, action
    assert editor_client.post("/admin/newsletters/new").status_code == 400


def test_the_dashboard_links_to_the_newsletters(editor_client):
    page = editor_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/newsletters"' in page


def test_an_unknown_newsletter_is_404(editor_client):
    assert editor_client.get("/admin/newsletters/999").status_code == 404


# --- preview --------------------------------------------------------------------------------


def test_the_preview_page_has_two_sandboxed_frames_and_the_text_part(
    editor_client, make_newsletter
):
    newsletter = make_newsletter(subject="Autumn news", body_markdown="Hello **readers**.")
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}/preview").get_data(as_text=True)
    frame_src = f'src="/admin/newsletters/{newsletter.id}/preview.html"'
    assert page.count('sandbox=""') == 2
    assert page.count(frame_src) == 2
    assert "nl-frame-desktop" in page and "nl-frame-mobile" in page
    assert "Desktop (600 pixels)" in page and "Mobile (375 pixels)" in page
    assert "Hello readers." in page  # the plain-text part, without Markdown
    assert "Send a test to me" in page
    assert "Gmail will cut this email short" not in page


def test_the_preview_warns_when_gmail_would_clip_the_email(editor_client, make_newsletter):
    paragraph = "A long paragraph about what happened at the groups this month. " * 8
    big = make_newsletter(body_markdown="\n\n".join([paragraph] * 250))
    page = editor_client.get(f"/admin/newsletters/{big.id}/preview").get_data(as_text=True)
    html_bytes = len(editor_client.get(f"/admin/newsletters/{big.id}/preview.html").data)
    assert html_bytes > 102 * 1024
    assert "Gmail will cut this email short." in page
    assert f"Its HTML is {round(html_bytes / 1024)} KB" in page
    small = make_newsletter(body_markdown=paragraph)
    page = editor_client.get(f"/admin/newsletters/{small.id}/preview").get_data(as_text=True)
    assert "Gmail will cut this email short" not in page
    assert "(Gmail clips at 102 KB)" in page


def test_the_preview_html_is_served_with_a_strict_csp(editor_client, make_newsletter):
    newsletter = make_newsletter(body_markdown="Hello **readers**.")
    response = editor_client.get(f"/admin/newsletters/{newsletter.id}/preview.html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # falls back to default-src 'none'
    assert "sandbox" in csp
    assert "frame-ancestors 'self'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    body = response.get_data(as_text=True)
    assert "<strong>readers</strong>" in body
    assert "%%" not in body  # no placeholder left
    assert "#unsubscribe-link" in body
    assert "fonts.googleapis.com" not in body


def test_the_preview_text(editor_client, make_newsletter):
    newsletter = make_newsletter(body_markdown="Hello **readers**.")
    response = editor_client.get(f"/admin/newsletters/{newsletter.id}/preview.txt")
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "Hello readers." in text
    assert "**" not in text


def test_send_a_test_to_me(editor_client, make_newsletter, editor, monkeypatch):
    from engage.newsletters import service

    sent = []
    monkeypatch.setattr(
        service, "send_test", lambda newsletter, to: sent.append((newsletter.id, to))
    )
    newsletter = make_newsletter()
    url = f"/admin/newsletters/{newsletter.id}/test"
    response = form_post(
        editor_client, url, {}, page_url=f"/admin/newsletters/{newsletter.id}/preview"
    )
    assert response.status_code == 303
    assert sent == [(newsletter.id, "editor@example.org")]
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A test is on its way to editor@example.org." in page


def test_send_a_test_enqueues_the_task(editor_client, make_newsletter, app):
    """The real service: the task is on the queue after the view commits."""
    from tests.support import tasks as support

    support.purge(app)
    newsletter = make_newsletter()
    form_post(
        editor_client,
        f"/admin/newsletters/{newsletter.id}/test",
        {},
        page_url=f"/admin/newsletters/{newsletter.id}/preview",
    )
    celery = app.extensions["celery"]
    with celery.connection_for_read() as conn:
        queue = conn.SimpleQueue(celery.conf.task_default_queue)
        try:
            message = queue.get(block=True, timeout=2)
            assert message.headers["task"] == "engage.newsletters.send_test"
            message.ack()
        finally:
            queue.close()
    support.purge(app)


# --- schedule -------------------------------------------------------------------------------


def test_local_to_utc_in_winter_and_summer():
    winter = local_to_utc(
        datetime(2030, 1, 15).date(), datetime(2030, 1, 15, 9).time(), "Europe/Paris"
    )
    assert winter == datetime(2030, 1, 15, 8, 0, tzinfo=UTC)
    summer = local_to_utc(
        datetime(2030, 7, 15).date(), datetime(2030, 7, 15, 9).time(), "Europe/Paris"
    )
    assert summer == datetime(2030, 7, 15, 7, 0, tzinfo=UTC)


def test_local_to_utc_refuses_a_time_the_clocks_skip():
    with pytest.raises(ValueError, match="does not exist"):
        # Clocks go from 02:00 to 03:00 in Paris on 31 March 2030.
        local_to_utc(
            datetime(2030, 3, 31).date(), datetime(2030, 3, 31, 2, 30).time(), "Europe/Paris"
        )


def schedule(client, newsletter, **fields):
    data = {"date": "2030-01-15", "time": "09:00", "timezone": "Europe/Paris", **fields}
    return form_post(
        client,
        f"/admin/newsletters/{newsletter.id}/schedule",
        data,
        page_url=f"/admin/newsletters/{newsletter.id}",
    )


def test_the_schedule_form_offers_time_zones_with_utc_first(editor_client, make_newsletter):
    newsletter = make_newsletter()
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert '<select id="timezone" name="timezone"><option selected value="UTC">UTC</option>' in page
    assert '<option value="Europe/Paris">Europe/Paris</option>' in page
    # Canonical zones only: no backward-compatible aliases.
    assert '<option value="Asia/Kolkata">' in page and "Asia/Calcutta" not in page
    zones = page.split('<select id="timezone"', 1)[1].split("</select>", 1)[0]
    assert 'value="US/Eastern"' not in zones and 'value="GB"' not in zones
    assert page.count("<option") < 450
    assert 'type="date"' in page and 'type="time"' in page
    assert "Send now to 0 subscribers" in page


def test_scheduling_9am_paris_in_winter_is_stored_as_8am_utc(
    editor_client, make_newsletter, readers, db
):
    newsletter = make_newsletter()
    response = schedule(editor_client, newsletter)
    assert response.status_code == 303
    db.session.refresh(newsletter)
    assert newsletter.status == "scheduled"
    assert newsletter.scheduled_at == datetime(2030, 1, 15, 8, 0, tzinfo=UTC)
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    # Said once, and the picker keeps the zone the editor chose, with the time shown in it.
    assert page.count("Scheduled for") == 1
    assert "Scheduled for <strong>15 January 2030, 08:00 UTC</strong>." in page
    assert '<option selected value="Europe/Paris">Europe/Paris</option>' in page
    assert 'value="09:00"' in page and 'value="2030-01-15"' in page
    assert "Reschedule" in page and "Back to draft" in page and "Cancel this newsletter" in page


def test_a_time_in_the_past_is_refused(editor_client, make_newsletter, db):
    newsletter = make_newsletter()
    response = schedule(editor_client, newsletter, date="2020-01-15")
    assert response.status_code == 422
    assert "That time has passed." in response.get_data(as_text=True)
    db.session.refresh(newsletter)
    assert newsletter.status == "draft"


def test_a_missing_date_is_a_field_error(editor_client, make_newsletter):
    newsletter = make_newsletter()
    response = schedule(editor_client, newsletter, date="")
    assert response.status_code == 422
    assert "Choose a date." in response.get_data(as_text=True)


def test_rescheduling_and_unscheduling(editor_client, make_newsletter, readers, db):
    newsletter = make_newsletter()
    schedule(editor_client, newsletter)
    schedule(editor_client, newsletter, date="2030-07-15", time="18:30", timezone="UTC")
    db.session.refresh(newsletter)
    assert newsletter.scheduled_at == datetime(2030, 7, 15, 18, 30, tzinfo=UTC)
    page_url = f"/admin/newsletters/{newsletter.id}"
    response = form_post(editor_client, f"{page_url}/unschedule", {}, page_url=page_url)
    assert response.status_code == 303
    db.session.refresh(newsletter)
    assert (newsletter.status, newsletter.scheduled_at) == ("draft", None)


def test_cancelling_a_scheduled_newsletter(editor_client, make_newsletter, readers, db):
    newsletter = make_newsletter()
    schedule(editor_client, newsletter)
    page_url = f"/admin/newsletters/{newsletter.id}"
    form_post(editor_client, f"{page_url}/cancel", {}, page_url=page_url)
    db.session.refresh(newsletter)
    assert newsletter.status == "cancelled"


def test_a_refused_transition_is_a_flash_message_not_a_500(editor_client, make_newsletter, db):
    newsletter = make_newsletter()  # a draft cannot be cancelled or paused
    page_url = f"/admin/newsletters/{newsletter.id}"
    for action in ("cancel", "pause", "resume"):
        response = form_post(editor_client, f"{page_url}/{action}", {}, page_url=page_url)
        assert response.status_code == 303
        page = editor_client.get(page_url).get_data(as_text=True)
        assert "flash-error" in page and "cannot be" in page
    db.session.refresh(newsletter)
    assert newsletter.status == "draft"


def test_send_now_starts_the_send(editor_client, make_newsletter, readers, db, app):
    from tests.support import tasks as support

    newsletter = make_newsletter()
    page_url = f"/admin/newsletters/{newsletter.id}"
    page = editor_client.get(page_url).get_data(as_text=True)
    assert "Send now to 3 subscribers" in page
    response = form_post(editor_client, f"{page_url}/send-now", {}, page_url=page_url)
    assert response.status_code == 303
    db.session.refresh(newsletter)
    assert newsletter.status in ("scheduled", "sending")
    support.purge(app)


def test_the_missed_page_says_why_and_offers_reschedule_or_send_now(
    editor_client, make_newsletter, readers
):
    due = utcnow() - timedelta(hours=3)
    newsletter = make_newsletter(status="missed", scheduled_at=due)
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert "This newsletter was not sent" in page
    assert "worker or the scheduler was not running" in page
    assert ">Reschedule</button>" in page
    assert "Send now to 3 subscribers" in page
    # It leads to the confirmation page, which POSTs.
    assert f'href="/admin/newsletters/{newsletter.id}/send-now"' in page
    # A reason recorded by the pipeline is shown instead of the usual one.
    newsletter.paused_reason = "the scheduler found it 2 hours late"
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert "the scheduler found it 2 hours late" in page


# --- progress and results -------------------------------------------------------------------


def test_progress_json_shape(editor_client, make_newsletter, readers, db):
    newsletter = make_newsletter(status="sending", started_at=utcnow() - timedelta(seconds=30))
    build_deliveries(db.session, newsletter, readers, ["sent", "failed", "pending"], "550 No")
    data = editor_client.get(f"/admin/newsletters/{newsletter.id}/progress.json").get_json()
    assert {"total", "sent", "failed", "pending", "skipped", "status", "paused_reason"} <= set(data)
    assert {"rate_per_second", "eta_seconds", "done", "percent"} <= set(data)
    assert (data["total"], data["sent"], data["failed"], data["pending"]) == (3, 1, 1, 1)
    assert (data["done"], data["percent"], data["status"]) == (2, 66.7, "sending")
    assert data["rate_per_second"] > 0


def test_the_sending_page_has_a_progress_bar_and_controls(
    editor_client, make_newsletter, readers, db
):
    newsletter = make_newsletter(status="sending", started_at=utcnow())
    build_deliveries(db.session, newsletter, readers, ["sent", "pending", "pending"])
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert '<progress id="nl-progress-bar" max="3" value="1">' in page
    assert f'data-progress-url="/admin/newsletters/{newsletter.id}/progress.json"' in page
    assert ">Pause</button>" in page and ">Cancel the rest</button>" in page
    assert f'href="/admin/newsletters/{newsletter.id}" class="nl-refresh">Refresh</a>' in page
    assert 'http-equiv="refresh"' not in page.lower()
    assert "newsletters.js" in page


def test_pause_and_resume(editor_client, make_newsletter, readers, db, app):
    from tests.support import tasks as support

    newsletter = make_newsletter(status="sending", started_at=utcnow())
    build_deliveries(db.session, newsletter, readers, ["sent", "pending", "pending"])
    page_url = f"/admin/newsletters/{newsletter.id}"
    form_post(editor_client, f"{page_url}/pause", {}, page_url=page_url)
    db.session.refresh(newsletter)
    assert newsletter.status == "paused"
    page = editor_client.get(page_url).get_data(as_text=True)
    assert "Paused: paused by Eda." in page
    assert ">Resume</button>" in page
    form_post(editor_client, f"{page_url}/resume", {}, page_url=page_url)
    db.session.refresh(newsletter)
    assert newsletter.status == "sending"
    support.purge(app)


def test_after_sending_the_totals_and_the_failures_with_their_replies(
    editor_client, make_newsletter, readers, db
):
    newsletter = make_newsletter(status="sent", started_at=utcnow(), finished_at=utcnow())
    build_deliveries(
        db.session, newsletter, readers, ["sent", "failed", "sent"], "550 5.1.1 No such user"
    )
    page = editor_client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)
    assert "Results" in page
    assert '<dd data-figure="sent">2</dd>' in page
    assert '<dd data-figure="failed">1</dd>' in page
    assert "550 5.1.1 No such user" in page
    assert readers[1].email not in page  # the address is masked
    assert ">Pause</button>" not in page
    assert "Public web version" in page
    assert html.escape("Edit") not in page.split("nl-links")[1].split("</ul>")[0]
