"""The editor's subscriber desk: /admin/subscribers (search, filters, paging, CSV), a page per
reader with its actions, and /admin/suppressions, as staff use them through the browser's
requests (the test client) on the suite's database."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engage.accounts.service import create_user
from engage.newsletters.models import Newsletter
from engage.sending import bounces
from engage.sending.models import Delivery
from engage.subscriptions import service
from engage.subscriptions.models import (
    Consent,
    Subscriber,
    Suppression,
    SuppressionLift,
    Topic,
)
from engage.types import utcnow
from tests.conftest import csrf_token

PASSWORD = "a long enough password"


def sign_in(client, session, role: str = "editor", email: str | None = None):
    user = create_user(session, email or f"{role}@staff.example.org", PASSWORD, role)
    session.commit()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = user.get_id()
        cookie["_fresh"] = True
    return user


def add(
    session,
    email,
    *,
    status="confirmed",
    topics=(),
    digest="off",
    source="form:/about",
    version="v1",
    created=None,
    confirmed=None,
):
    """A subscriber with one consent record, as a sign-up (or import) leaves it."""
    created = created or utcnow()
    subscriber = Subscriber(
        email=email,
        email_hash=service.address_hash(email),
        status=status,
        digest=digest,
        created_at=created,
        confirmed_at=confirmed or (created if status == "confirmed" else None),
    )
    subscriber.topics = list(topics)
    session.add(subscriber)
    session.add(
        Consent(
            subscriber=subscriber,
            source=source,
            text="I agree.",
            version=version,
            consented_at=created,
            confirmed_at=subscriber.confirmed_at,
        )
    )
    session.flush()
    return subscriber


def search(client, **fields):
    """The filter form as a browser submits it (POST, with its CSRF token)."""
    token = csrf_token(client, "/admin/subscribers")
    return client.post("/admin/subscribers", data={"csrf_token": token, **fields})


def listed(response) -> list[str]:
    """The addresses in the page's table, in order."""
    html = response.get_data(as_text=True)
    table = (
        html.split('id="subscribers"', 1)[1].split("</table>", 1)[0]
        if 'id="subscribers"' in html
        else ""
    )
    return re.findall(r'<td data-label="Address"><a href="[^"]+">([^<]+)</a>', table)


@pytest.fixture
def staff(client, db, ctx):
    return sign_in(client, db.session)


@pytest.fixture
def people(ctx, db, topics):
    s = db.session
    made = {
        "anna": add(
            s,
            "anna@example.org",
            topics=[topics["newsletter"]],
            digest="weekly",
            created=datetime(2026, 1, 10, 9, tzinfo=UTC),
        ),
        "annabel": add(
            s,
            "annabel@example.net",
            status="pending",
            topics=[topics["groups-news"]],
            source="embed:partner.example/page",
            created=datetime(2026, 2, 1, tzinfo=UTC),
        ),
        "bob": add(
            s,
            "bob@example.org",
            status="unsubscribed",
            digest="daily",
            source="api:import",
            version="imported",
            created=datetime(2026, 3, 5, tzinfo=UTC),
        ),
        "under": add(
            s,
            "a_b%c@example.org",
            created=datetime(2026, 3, 6, tzinfo=UTC),
            confirmed=datetime(2026, 3, 20, tzinfo=UTC),
        ),
        "axbyc": add(s, "axbyc@example.org", created=datetime(2026, 3, 7, tzinfo=UTC)),
    }
    s.commit()
    return made


# --- search --------------------------------------------------------------------------------------


def test_a_whole_address_finds_exactly_that_subscriber(client, staff, people):
    response = search(client, q="  Anna@EXAMPLE.org ")
    assert response.status_code == 200
    assert listed(response) == ["anna@example.org"]
    assert "<strong>1</strong> subscriber match" in response.get_data(as_text=True)


def test_text_without_at_or_with_a_star_finds_addresses_that_start_with_it(client, staff, people):
    assert listed(search(client, q="anna")) == ["annabel@example.net", "anna@example.org"]
    assert listed(search(client, q="Anna@ex*")) == ["anna@example.org"]
    assert listed(search(client, q="example")) == []  # the start, not anywhere inside


def test_like_wildcards_in_the_search_are_plain_characters(client, staff, people):
    assert listed(search(client, q="a_b%")) == ["a_b%c@example.org"]  # not axbyc


def test_an_address_is_never_taken_from_a_link(client, staff, people):
    response = client.get("/admin/subscribers?q=anna@example.org")
    assert response.status_code == 400
    assert "addresses are not taken from links" in response.get_data(as_text=True)


def test_a_search_with_only_a_star_asks_for_more(client, staff, people):
    response = search(client, q="*")
    assert response.status_code == 400
    assert "at least the first letter" in response.get_data(as_text=True)


# --- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", ["annabel@example.net"]),
        ("status=unsubscribed", ["bob@example.org"]),
        ("topic=groups-news", ["annabel@example.net"]),
        ("digest=daily", ["bob@example.org"]),
        ("source=embed", ["annabel@example.net"]),
        ("source=import", ["bob@example.org"]),
        ("source=form", ["axbyc@example.org", "a_b%c@example.org", "anna@example.org"]),
        (
            "created_from=2026-02-01&created_to=2026-03-05",
            ["bob@example.org", "annabel@example.net"],
        ),
        ("confirmed_from=2026-03-10", ["a_b%c@example.org"]),
        ("confirmed_to=2026-01-10", ["anna@example.org"]),
        (
            "status=confirmed&source=form&created_from=2026-03-01",
            ["axbyc@example.org", "a_b%c@example.org"],
        ),
    ],
)
def test_each_filter(client, staff, people, query, expected):
    response = client.get(f"/admin/subscribers?{query}")
    assert response.status_code == 200
    assert listed(response) == expected
    assert f"<strong>{len(expected)}</strong>" in response.get_data(as_text=True)


def test_filters_without_an_address_become_a_link(client, staff, people):
    response = search(client, q="", status="pending", digest="")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/subscribers?status=pending"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=gone", "Choose a status from the list."),
        ("topic=nope", "Choose a topic from the list."),
        ("created_from=2026-13-01", "Enter a date as YYYY-MM-DD"),
        ("created_from=2026-03-01&created_to=2026-02-01", "This date is before the first one."),
        ("after=x", None),
    ],
)
def test_bad_filters_get_a_clear_message(client, staff, people, query, message):
    response = client.get(f"/admin/subscribers?{query}")
    assert response.status_code == 400
    if message:
        assert message in response.get_data(as_text=True)


# --- paging --------------------------------------------------------------------------------------


def _pager_ids(response, direction: str) -> str | None:
    """The id the "Older" (`after`) or "Newer" (`before`) button of the page carries."""
    label = "Older →" if direction == "after" else "← Newer"
    html = response.get_data(as_text=True)
    for form in re.findall(r"<form .*?</form>", html, re.S):
        if f">{label}</button>" in form:
            return re.search(rf'name="{direction}" value="(\d+)"', form).group(1)
    return None


def test_paging_goes_older_and_back_newer(client, staff, people):
    first = client.get("/admin/subscribers?per_page=2")
    assert listed(first) == ["axbyc@example.org", "a_b%c@example.org"]
    assert _pager_ids(first, "before") is None
    after = _pager_ids(first, "after")
    second = client.get(f"/admin/subscribers?per_page=2&after={after}")
    assert listed(second) == ["bob@example.org", "annabel@example.net"]
    third = client.get(f"/admin/subscribers?per_page=2&after={_pager_ids(second, 'after')}")
    assert listed(third) == ["anna@example.org"]
    assert _pager_ids(third, "after") is None
    back = client.get(f"/admin/subscribers?per_page=2&before={_pager_ids(third, 'before')}")
    assert listed(back) == ["bob@example.org", "annabel@example.net"]
    assert _pager_ids(back, "after") and _pager_ids(back, "before")
    top = client.get(f"/admin/subscribers?per_page=2&before={_pager_ids(back, 'before')}")
    assert listed(top) == listed(first)
    assert _pager_ids(top, "before") is None
    assert "<strong>5</strong> subscribers in all" in back.get_data(as_text=True)


def test_paging_a_search_keeps_the_address_in_the_form(client, staff, people):
    first = search(client, q="a", per_page="2")
    assert listed(first) == ["axbyc@example.org", "a_b%c@example.org"]
    html = first.get_data(as_text=True)
    assert '<form method="post" action="/admin/subscribers" class="inline">' in html
    second = search(client, q="a", per_page="2", after=_pager_ids(first, "after"))
    assert listed(second) == ["annabel@example.net", "anna@example.org"]


# --- one reader's page ---------------------------------------------------------------------------


def test_the_subscriber_page_shows_consent_deliveries_and_bounces(client, staff, people, db):
    anna = people["anna"]
    newsletter = Newsletter(subject="March letter", body_markdown="Hi", status="sent")
    db.session.add(newsletter)
    db.session.flush()
    db.session.add(
        Delivery(
            newsletter_id=newsletter.id,
            subscriber_id=anna.id,
            status="failed",
            bounce="hard",
            attempts=1,
            smtp_reply="550 5.1.1 <anna@example.org>: mailbox unavailable",
        )
    )
    report = bounces.smtp_refusal("anna@example.org", 550, "5.1.1 mailbox unavailable")
    assert bounces.apply(db.session, report) is not None
    db.session.commit()

    html = client.get(f"/admin/subscribers/{anna.id}").get_data(as_text=True)
    assert "anna@example.org" in html
    consents = html.split('id="consents"', 1)[1].split("</table>", 1)[0]
    assert "form:/about" in consents and "Version v1" in consents and "2026-01-10 09:00" in consents
    deliveries = html.split('id="deliveries"', 1)[1].split("</table>", 1)[0]
    assert "Newsletter: March letter" in deliveries
    assert "failed (hard bounce)" in deliveries
    assert "550 5.1.1 &lt;a•••@example.org&gt;: mailbox unavailable" in deliveries
    events = html.split('id="bounces"', 1)[1].split("</table>", 1)[0]
    assert "hard" in events and "5.1.1" in events and "smtp" in events
    assert "This address is on the suppression list (hard bounce" in html


def test_an_unknown_subscriber_is_a_404(client, staff):
    assert client.get("/admin/subscribers/999999").status_code == 404
    assert client.get("/admin/subscribers/99999999999").status_code == 404


# --- actions -------------------------------------------------------------------------------------


def _button(client, url: str, page: str) -> object:
    return client.post(url, data={"csrf_token": csrf_token(client, page)})


def test_resending_the_confirmation_mails_the_reader_through_the_outbox(
    client, staff, topics, db, tasks, smtp_server
):
    signup = service.sign_up(
        db.session,
        "new@example.org",
        topics=None,
        digest="off",
        source="form:/",
        now=utcnow() - timedelta(hours=1),
    )
    db.session.commit()
    assert tasks.run() == []  # the sign-up's own email was never queued here
    page = f"/admin/subscribers/{signup.subscriber.id}"
    response = _button(client, f"{page}/resend-confirmation", page)
    assert response.status_code == 303
    assert "on its way again" in client.get(page).get_data(as_text=True)
    assert tasks.run() == ["engage.send_email"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["new@example.org"]
    assert received.message["Subject"] == "Please confirm your subscription to Engage"
    assert "http://engage.test/confirm/" in received.message.get_body(("plain",)).get_content()


def test_resending_is_refused_for_a_confirmed_subscriber_and_right_after_a_send(
    client, staff, people, db, tasks, smtp_server
):
    page = f"/admin/subscribers/{people['anna'].id}"
    _button(client, f"{page}/resend-confirmation", page)
    assert "Only a pending subscriber" in client.get(page).get_data(as_text=True)
    signup = service.sign_up(
        db.session, "fresh@example.org", topics=None, digest="off", source="form:/"
    )
    db.session.commit()
    page = f"/admin/subscribers/{signup.subscriber.id}"
    _button(client, f"{page}/resend-confirmation", page)
    assert "a short while ago" in client.get(page).get_data(as_text=True)
    assert tasks.run() == []
    assert smtp_server.messages == []


def test_unsubscribing_from_the_desk(client, staff, people, db):
    anna = people["anna"]
    page = f"/admin/subscribers/{anna.id}"
    assert _button(client, f"{page}/unsubscribe", page).status_code == 303
    db.session.expire_all()
    anna = db.session.get(Subscriber, anna.id)
    assert anna.status == "unsubscribed"
    assert all(c.withdrawn_at for c in anna.consents)
    assert "Unsubscribed from everything" in client.get(page).get_data(as_text=True)


def test_erasing_asks_on_its_own_page_then_keeps_only_the_hash(client, staff, people, db):
    anna = people["anna"]
    page = f"/admin/subscribers/{anna.id}"
    assert f'href="{page}/erase"' in client.get(page).get_data(as_text=True)
    confirm = client.get(f"{page}/erase")
    assert "This cannot be undone" in confirm.get_data(as_text=True)
    assert db.session.get(Subscriber, anna.id) is not None  # asking changed nothing
    assert client.post(f"{page}/erase").status_code == 400  # no token, no erasure
    response = _button(client, f"{page}/erase", f"{page}/erase")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/subscribers"
    db.session.expire_all()
    assert db.session.get(Subscriber, anna.id) is None
    [kept] = db.session.scalars(select(Suppression)).all()
    assert kept.reason == "erased" and kept.email_hash == service.address_hash("anna@example.org")
    html = client.get("/admin/subscribers").get_data(as_text=True)
    assert "is erased" in html and "anna@example.org" not in html


# --- who may -------------------------------------------------------------------------------------

STAFF_PAGES = [
    "/admin/subscribers",
    "/admin/subscribers.csv",
    "/admin/subscribers/1",
    "/admin/subscribers/1/erase",
    "/admin/subscribers/import",
    "/admin/suppressions",
]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_a_moderator_gets_403(client, db, ctx, people, path):
    sign_in(client, db.session, "moderator")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", [*STAFF_PAGES, "/admin/suppressions/1/lift"])
def test_anonymous_staff_pages_go_to_the_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- CSV export ----------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="subscribers-')
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8"))))


def test_the_csv_holds_the_filtered_subscribers(client, staff, people):
    rows = _csv(client.get("/admin/subscribers.csv?status=confirmed&source=form"))
    assert rows[0][:5] == ["id", "email", "status", "topics", "digest"]
    assert [r[1] for r in rows[1:]] == [
        "anna@example.org",
        "a_b%c@example.org",
        "axbyc@example.org",
    ]
    anna = rows[1]
    assert anna[3] == "newsletter" and anna[4] == "weekly"
    assert anna[5] == "2026-01-10T09:00:00+00:00"
    assert anna[8:10] == ["form:/about", "v1"]


def test_the_csv_of_a_search_comes_by_post(client, staff, people):
    token = csrf_token(client, "/admin/subscribers")
    rows = _csv(client.post("/admin/subscribers.csv", data={"csrf_token": token, "q": "ann"}))
    assert [r[1] for r in rows[1:]] == ["anna@example.org", "annabel@example.net"]


def test_the_csv_neutralises_formulas_and_keeps_utf8(client, staff, db, ctx, topics):
    add(db.session, "=1+2@example.org", source='=HYPERLINK("http://x")')
    add(db.session, "+44@example.org", source="-2+3")
    add(db.session, "zoë@example.org", source="@SUM(A1)")
    db.session.commit()
    rows = _csv(client.get("/admin/subscribers.csv"))
    cells = [(r[1], r[8]) for r in rows[1:]]
    assert cells == [
        ("'=1+2@example.org", '\'=HYPERLINK("http://x")'),
        ("'+44@example.org", "'-2+3"),
        ("zoë@example.org", "'@SUM(A1)"),
    ]


def test_a_bad_filter_makes_no_csv(client, staff, people):
    response = client.get("/admin/subscribers.csv?created_from=yesterday")
    assert response.status_code == 303
    assert "Enter a date" in client.get("/admin/subscribers").get_data(as_text=True)


# --- suppressions --------------------------------------------------------------------------------


@pytest.fixture
def suppressed(ctx, db, people):
    """A hard bounce of a subscriber still on the list, and an erased address."""
    service.suppress(db.session, people["bob"].email_hash, "bounced")
    service.erase(db.session, people["axbyc"])
    db.session.commit()
    return {s.reason: s for s in db.session.scalars(select(Suppression))}


def test_the_suppression_list_shows_hashes_and_addresses_still_held(client, staff, suppressed):
    html = client.get("/admin/suppressions").get_data(as_text=True)
    table = html.split('id="suppressions"', 1)[1].split("</table>", 1)[0]
    assert "bob@example.org" in table and "Hard bounce" in table
    assert suppressed["erased"].email_hash[:12] in table and "not kept" in table
    assert "axbyc@example.org" not in html
    assert "Lift…" not in table  # editors see the list; lifting is for admins


def test_the_suppression_list_finds_an_address_by_its_hash(client, staff, suppressed):
    token = csrf_token(client, "/admin/suppressions")
    found = client.post("/admin/suppressions", data={"csrf_token": token, "q": "AXBYC@example.org"})
    table = found.get_data(as_text=True).split('id="suppressions"', 1)[1]
    assert suppressed["erased"].email_hash[:12] in table
    assert suppressed["bounced"].email_hash[:12] not in table.split("</table>", 1)[0]
    bad = client.post("/admin/suppressions", data={"csrf_token": token, "q": "axbyc"})
    assert bad.status_code == 400
    assert "Type a whole email address" in bad.get_data(as_text=True)
    assert client.get("/admin/suppressions?reason=erased").status_code == 200


def test_an_admin_lifts_a_suppression_with_a_note(client, db, ctx, suppressed, people):
    admin = sign_in(client, db.session, "admin")
    bounced = suppressed["bounced"]
    page = f"/admin/suppressions/{bounced.id}/lift"
    assert "Lift…" in client.get("/admin/suppressions").get_data(as_text=True)
    token = csrf_token(client, page)
    blank = client.post(page, data={"csrf_token": token, "note": "   "})
    assert blank.status_code == 400
    assert "Please say why" in blank.get_data(as_text=True)
    response = client.post(page, data={"csrf_token": token, "note": "Mailbox fixed, per ticket 42"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Suppression, bounced.id) is None
    [lift] = db.session.scalars(select(SuppressionLift)).all()
    assert (lift.reason, lift.note, lift.user_id) == (
        "bounced",
        "Mailbox fixed, per ticket 42",
        admin.id,
    )
    assert lift.lifted_by == admin.email and lift.email_hash == people["bob"].email_hash
    assert (
        db.session.get(Subscriber, people["bob"].id).status == "unsubscribed"
    )  # not re-subscribed
    history = client.get("/admin/suppressions").get_data(as_text=True).split('id="lifts"', 1)[1]
    assert "Mailbox fixed, per ticket 42" in history and admin.email in history


def test_an_editor_cannot_lift(client, staff, suppressed, db):
    page = f"/admin/suppressions/{suppressed['bounced'].id}/lift"
    assert client.get(page).status_code == 403
    token = csrf_token(client, "/admin/suppressions")
    assert client.post(page, data={"csrf_token": token, "note": "x"}).status_code == 403
    assert db.session.scalars(select(SuppressionLift)).all() == []


# --- the dashboard -------------------------------------------------------------------------------


def test_the_dashboard_links_the_desk_with_counts(client, staff, suppressed):
    html = client.get("/admin/").get_data(as_text=True)
    assert '<a href="/admin/subscribers">Subscribers</a> (4: 2 confirmed, 1 pending)' in html
    assert '<a href="/admin/suppressions">Suppression list</a> (2)' in html


def test_the_dashboard_shows_no_desk_to_a_moderator(client, db, ctx):
    sign_in(client, db.session, "moderator")
    assert "/admin/subscribers" not in client.get("/admin/").get_data(as_text=True)


def test_the_topics_fixture_is_what_the_filter_offers(client, staff, topics, db):
    html = client.get("/admin/subscribers").get_data(as_text=True)
    for topic in db.session.scalars(select(Topic)):
        assert f'<option value="{topic.slug}"' in html


# --- the index behind the prefix search ----------------------------------------------------------


def test_a_prefix_search_can_be_served_by_an_index(db, ctx, people):
    """Not a timing: the plan. (benchmarks/subscriber_search.py shows it at a million rows.)"""
    from engage.subscriptions import desk

    flt, _ = desk.parse_filter({"q": "ann"}, [])
    statement = desk.filtered(db.session, flt).with_only_columns(Subscriber.id)
    compiled = statement.compile(dialect=db.session.get_bind().dialect)
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # A table this small is read whole; with that ruled out, an index must serve LIKE.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
        assert any("ix_subscribers_email_pattern" in line for line in plan), plan
    else:
        plan = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
        ).all()
        details = " ".join(row[-1] for row in plan)
        # SEARCH subscribers USING COVERING INDEX ix_subscribers_email_pattern (email>? AND email<?)
        assert "SEARCH subscribers USING" in details and "(email>? AND email<?)" in details, details
