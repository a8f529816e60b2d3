"""The organiser's path: submit, confirm the address, editor approves or rejects, update link."""

from __future__ import annotations

import re

from sqlalchemy import select

from engage.community.models import Event, SupportGroup
from tests.community.conftest import build_group, mail_to, sign_in
from tests.conftest import csrf_token

CONFIRM_LINK = re.compile(r"http://engage\.test/community/confirm/[A-Za-z0-9_.\-]+")
EDIT_LINK = re.compile(r"http://engage\.test/community/edit/[A-Za-z0-9_.\-]+")
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def group_form(**values) -> dict:
    data = {
        "name": "Salford Sunday Circle",
        "description": "A calm group for adults living with anxiety.",
        "purposes": ["anxiety", "panic"],
        "format": "in_person",
        "region": "North West England",
        "city": "Salford",
        "schedule": "Sundays, 4pm",
        "next_meeting": "2031-06-01T16:00",
        "timezone": "Europe/London",
        "language": "English",
        "run_by": "peer",
        "cost": "Free",
        "how_to_join": "Email first, then come along.",
        "contact": "sunday-circle@example.org",
        "organiser_email": "Organiser@Example.org",
    }
    data.update(values)
    return data


def submit_group(client, **values):
    data = {"csrf_token": csrf_token(client, "/groups/submit"), **group_form(**values)}
    return client.post("/groups/submit", data=data)


def link(message, pattern) -> str:
    body = message.message.get_body(("plain",)).get_content()
    match = pattern.search(body)
    assert match, body
    return match.group(0).removeprefix("http://engage.test")


def text(response) -> str:
    return response.get_data(as_text=True)


def test_submitting_a_group_records_it_pending_and_emails_a_confirmation(
    client, db, tasks, smtp_server
):
    response = submit_group(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/community/check-your-email"
    group = db.session.scalar(select(SupportGroup))
    assert group.status == "pending" and group.approved_at is None
    assert group.organiser_email == "organiser@example.org"
    assert group.organiser_confirmed_at is None
    assert group.slug == "salford-sunday-circle"
    assert group.purposes == ["anxiety", "panic"]
    assert group.next_meeting_at.isoformat() == "2031-06-01T15:00:00+00:00"  # 4pm BST
    assert client.get(f"/groups/{group.slug}").status_code == 404

    [received] = mail_to(tasks, smtp_server, "organiser@example.org")
    assert received.rcpt_tos == ["organiser@example.org"]
    assert received.message["Subject"] == "Please confirm your listing on Engage"
    assert received.message["List-Unsubscribe"] is None
    assert "Salford Sunday Circle" in received.message.get_body(("html",)).get_content()
    assert link(received, CONFIRM_LINK).startswith("/community/confirm/")


def test_confirm_page_changes_nothing_until_its_button_is_pressed(client, db, tasks, smtp_server):
    submit_group(client)
    [message] = mail_to(tasks, smtp_server, "organiser@example.org")
    confirm = link(message, CONFIRM_LINK)
    page = client.get(confirm)  # what a link scanner does
    assert page.status_code == 200 and "Yes, confirm my listing" in text(page)
    group = db.session.scalar(select(SupportGroup))
    assert group.organiser_confirmed_at is None

    assert client.post(confirm, data={}).status_code == 400  # no CSRF token: nothing happens
    group = db.session.get(SupportGroup, group.id)
    assert group.organiser_confirmed_at is None

    done = client.post(confirm, data={"csrf_token": csrf_token(client, confirm)})
    assert done.status_code == 200 and "your listing is confirmed" in text(done)
    group = db.session.get(SupportGroup, group.id)
    assert group.organiser_confirmed_at is not None
    assert group.status == "pending"  # still waits for an editor


def test_broken_or_foreign_confirmation_links_are_refused(client, db, make_group):
    assert client.get("/community/confirm/not-a-token").status_code == 400
    from engage.tokens import make_token

    forged = make_token("organiser-verify", {"k": "g", "id": 999999, "f": "0" * 16})
    assert client.get(f"/community/confirm/{forged}").status_code == 400
    wrong_purpose = make_token("confirm", {"k": "g", "id": 1, "f": "0" * 16})
    assert client.get(f"/community/confirm/{wrong_purpose}").status_code == 400


def approve_in_admin(client, listing, kind="group"):
    admin = "/admin/community"
    return client.post(
        f"{admin}/{kind}/{listing.id}/approve", data={"csrf_token": csrf_token(client, admin)}
    )


def test_the_whole_path_to_a_public_listing(client, db, tasks, smtp_server, make_user):
    editor = make_user("editor")
    submit_group(client)
    [message] = mail_to(tasks, smtp_server, "organiser@example.org")
    confirm = link(message, CONFIRM_LINK)
    client.post(confirm, data={"csrf_token": csrf_token(client, confirm)})
    smtp_server.reset()

    sign_in(client, editor)
    queue = text(client.get("/admin/community"))
    assert "Salford Sunday Circle" in queue and "sunday-circle@example.org" in queue
    group = db.session.scalar(select(SupportGroup))
    response = approve_in_admin(client, group)
    assert response.status_code == 303
    group = db.session.get(SupportGroup, group.id)
    assert group.status == "approved" and group.approved_at is not None
    assert "Salford Sunday Circle" in text(client.get("/groups"))
    assert client.get(f"/groups/{group.slug}").status_code == 200

    [approved] = mail_to(tasks, smtp_server, "organiser@example.org")
    assert "live" in approved.message["Subject"]
    assert (
        f"http://engage.test/groups/{group.slug}"
        in approved.message.get_body(("plain",)).get_content()
    )
    assert link(approved, EDIT_LINK).startswith("/community/edit/")


def test_unconfirmed_submissions_wait_apart_without_an_approve_button(editor_client, db):
    submit_group(editor_client, name="Unconfirmed Circle")
    page = text(editor_client.get("/admin/community"))
    waiting = page.split("Waiting for the organiser to confirm", 1)[1]
    assert "Unconfirmed Circle" in waiting
    assert "Approve “Unconfirmed Circle”" not in page


def test_rejecting_emails_the_reason_and_the_edit_link_resubmits(
    editor_client, db, tasks, smtp_server, make_group
):
    group = make_group(name="Miracle Cure Club", status="pending", approved_at=None)
    admin = "/admin/community"
    token = csrf_token(editor_client, admin)
    empty = editor_client.post(f"{admin}/group/{group.id}/reject", data={"csrf_token": token})
    assert empty.status_code == 303
    group = db.session.get(SupportGroup, group.id)
    assert group.status == "pending"  # a rejection needs a reason
    assert "Please give a reason" in text(editor_client.get(admin))

    reason = "We cannot list groups that advise stopping prescribed medication."
    editor_client.post(
        f"{admin}/group/{group.id}/reject",
        data={"csrf_token": csrf_token(editor_client, admin), "reason": reason},
    )
    group = db.session.get(SupportGroup, group.id)
    assert group.status == "rejected" and group.rejection_reason == reason
    assert group.approved_at is None
    [received] = mail_to(tasks, smtp_server, group.organiser_email)
    body = received.message.get_body(("plain",)).get_content()
    assert reason in body

    edit = link(received, EDIT_LINK)
    form = {"csrf_token": csrf_token(editor_client, edit), **group_form(name="Medication-Aware")}
    form.pop("organiser_email")
    assert editor_client.post(edit, data=form).status_code == 200
    group = db.session.get(SupportGroup, group.id)
    assert group.status == "pending" and group.name == "Medication-Aware"
    assert group.rejection_reason == ""


def test_the_edit_link_updates_an_approved_listing_and_flags_it(client, db, make_group, make_user):
    from engage.community.service import listing_token

    editor = make_user("editor")
    group = make_group(name="Carers Coffee", cost="Free")
    approved_at = group.approved_at
    edit = f"/community/edit/{listing_token('organiser-edit', group)}"
    page = client.get(edit)
    assert page.status_code == 200 and 'value="Carers Coffee"' in text(page)

    form = {
        "csrf_token": csrf_token(client, edit),
        **group_form(name="Carers Coffee", cost="£2, optional"),
    }
    form.pop("organiser_email")
    saved = client.post(edit, data=form)
    assert saved.status_code == 200 and "Your changes are saved" in text(saved)
    group = db.session.get(SupportGroup, group.id)
    assert group.cost == "£2, optional"
    assert group.status == "approved" and group.approved_at == approved_at
    assert group.needs_check and group.updated_at is not None
    assert "Updated by its organiser" in text(client.get(f"/groups/{group.slug}"))

    sign_in(client, editor)
    admin = "/admin/community"
    assert "Carers Coffee" in text(client.get(admin)).split("Changed by their organisers")[1]
    client.post(f"{admin}/group/{group.id}/checked", data={"csrf_token": csrf_token(client, admin)})
    group = db.session.get(SupportGroup, group.id)
    assert not group.needs_check and group.status == "approved"


def test_an_edit_link_dies_when_the_organiser_changes(client, db, make_group):
    from engage.community.service import listing_token

    group = make_group()
    edit = f"/community/edit/{listing_token('organiser-edit', group)}"
    group.organiser_email = "someone-else@example.org"
    db.session.flush()
    assert client.get(edit).status_code == 400
    verify = listing_token("organiser-verify", group)
    assert client.get(f"/community/edit/{verify}").status_code == 400  # wrong purpose


def test_submitting_an_event_for_a_listed_group(client, db, make_group, tasks, smtp_server):
    group = make_group(name="Riverside Circle")
    hidden = make_group(name="Hidden Circle", status="pending", approved_at=None)
    page = text(client.get("/events/submit"))
    assert "Riverside Circle" in page and "Hidden Circle" not in page
    data = {
        "csrf_token": csrf_token(client, "/events/submit"),
        "title": "Winter open evening",
        "description": "Meet the group over tea.",
        "starts": "2031-12-02T19:00",
        "ends": "2031-12-02T21:00",
        "timezone": "Europe/London",
        "location": "Quayside Community Centre",
        "online_url": "",
        "group": str(group.id),
        "organiser_email": "events@example.org",
    }
    assert client.post("/events/submit", data=data).status_code == 303
    event = db.session.scalar(select(Event))
    assert event.status == "pending" and event.group_id == group.id
    assert event.starts_at.isoformat() == "2031-12-02T19:00:00+00:00"
    assert len(mail_to(tasks, smtp_server, "events@example.org")) == 1

    # A group that is not listed cannot be chosen, even by hand.
    data.update(csrf_token=csrf_token(client, "/events/submit"), group=str(hidden.id))
    refused = client.post("/events/submit", data=data)
    assert refused.status_code == 400 and "Please choose a group from the list" in text(refused)


def test_bad_input_gets_messages_never_a_500(client, db):
    cases = [
        ({"name": ""}, "Please give the group"),
        ({"purposes": []}, "Please choose what the group is for"),
        ({"purposes": ["astrology"]}, "Please choose from the list"),
        ({"format": "teleport"}, "Please choose in person, online or hybrid"),
        ({"region": "", "city": ""}, "Please give a region or a city"),
        ({"timezone": "Mars/Olympus_Mons"}, "Please give a time zone"),
        ({"timezone": "../../etc/passwd"}, "Please give a time zone"),
        ({"next_meeting": "next tuesday"}, "Please give a date and a time"),
        ({"contact": ""}, "Please give a way to contact"),
        ({"organiser_email": "not-an-address"}, "does not look like an email address"),
        ({"name": "x" * 5000}, "under 200 characters"),
        ({"run_by": ""}, "Please choose who runs the group"),
    ]
    for values, message in cases:
        response = submit_group(client, **values)
        assert response.status_code == 400, values
        assert message in text(response), (values, message)
    assert db.session.scalar(select(SupportGroup)) is None

    event_cases = [
        ({"starts": "2031-12-02T19:00", "ends": "2031-12-02T18:00"}, "The end must be after"),
        ({"starts": "garbage", "ends": ""}, "Please give a date and a time"),
        ({"location": "", "online_url": ""}, "Please give a place, an online link"),
        ({"online_url": "javascript:alert(1)"}, "starting with https://"),
        ({"group": "abc"}, "Please choose a group from the list"),
        ({"group": "99999999999999999999"}, "Please choose a group from the list"),
    ]
    for values, message in event_cases:
        data = {
            "csrf_token": csrf_token(client, "/events/submit"),
            "title": "An event",
            "starts": "2031-12-02T19:00",
            "ends": "2031-12-02T21:00",
            "timezone": "Europe/London",
            "location": "A hall",
            "organiser_email": "events@example.org",
            **values,
        }
        response = client.post("/events/submit", data=data)
        assert response.status_code == 400, values
        assert message in text(response), (values, message)
    assert db.session.scalar(select(Event)) is None


def test_a_stale_form_keeps_what_was_typed(client, db):
    response = client.post("/groups/submit", data=group_form(csrf_token="stale"))
    assert response.status_code == 400
    assert "This form expired" in text(response)
    assert 'value="Salford Sunday Circle"' in text(response)
    assert db.session.scalar(select(SupportGroup)) is None


def test_the_honeypot_answers_like_success_and_records_nothing(client, db, tasks, smtp_server):
    response = submit_group(client, website="http://spam.example")
    assert response.status_code == 303
    assert db.session.scalar(select(SupportGroup)) is None
    assert mail_to(tasks, smtp_server, "organiser@example.org") == []


def test_submissions_are_rate_limited(client, db):
    statuses = [submit_group(client, name=f"Group {n}").status_code for n in range(12)]
    assert statuses[:10] == [303] * 10
    assert statuses[10:] == [429, 429]


def test_xss_payloads_in_submitted_fields_are_inert_on_public_pages(client, db, make_user):
    editor = make_user("editor")
    submit_group(
        client,
        name=f"Circle {XSS}",
        description=XSS,
        schedule=XSS,
        how_to_join=XSS,
        contact="javascript:alert(1)//@example.org",
        region=XSS,
        cost=XSS,
    )
    group = db.session.scalar(select(SupportGroup))
    build_group(db.session)  # another, so the lists are not trivially empty
    group.status = "approved"
    group.approved_at = group.created_at
    db.session.commit()
    for url in ("/groups", f"/groups/{group.slug}", "/community/feed.atom"):
        page = text(client.get(url))
        assert "<script>" not in page and "<img src=x" not in page
        assert 'href="javascript:' not in page
    assert "&lt;script&gt;" in text(client.get(f"/groups/{group.slug}"))
    sign_in(client, editor)
    assert "<script>alert" not in text(client.get("/admin/community"))


def test_admin_screen_needs_an_editor(client, make_user, make_group):
    group = make_group(status="pending", approved_at=None)
    moderator, editor = make_user("moderator"), make_user("editor")
    anonymous = client.get("/admin/community")
    assert anonymous.status_code in (302, 401)
    sign_in(client, moderator)
    assert client.get("/admin/community").status_code == 403
    token = {"csrf_token": csrf_token(client, "/groups")}
    assert client.post(f"/admin/community/group/{group.id}/approve", data=token).status_code == 403
    sign_in(client, editor)
    assert client.get("/admin/community").status_code == 200
    token = {"csrf_token": csrf_token(client, "/admin/community")}
    assert client.post("/admin/community/group/999999/approve", data=token).status_code == 404
    assert client.post("/admin/community/thing/1/approve", data=token).status_code == 404
    assert client.get(f"/groups/{group.slug}").status_code == 404  # nothing was approved


def test_an_encoded_word_organiser_address_is_refused(client, db, tasks, smtp_server, auth):
    response = submit_group(client, organiser_email="=?iso-8859-1?q?victim?=@example.org")
    assert response.status_code == 400
    assert "cannot contain “=?”" in text(response)
    api = client.post(
        "/api/v1/events",
        json={
            "title": "Open evening",
            "starts_at": "2031-12-02T19:00:00+00:00",
            "ends_at": "2031-12-02T21:00:00+00:00",
            "location": "Town Hall",
            "organiser_email": "=?UTF-8?B?dmljdGlt?=@example.org",
        },
        headers=auth(),
    )
    assert api.status_code == 422, api.get_json()
    assert "cannot contain “=?”" in api.get_json()["error"]["fields"]["organiser_email"]
    assert db.session.scalar(select(SupportGroup)) is None
    assert db.session.scalar(select(Event)) is None
    assert mail_to(tasks, smtp_server, "victim@example.org") == []
