"""Where bounces and complaints show: the send's report page, the subscriber in the API, and
the reader's own data export; and erasure forgets them."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from engage.accounts.service import create_api_key
from engage.sending import bounces, verp
from engage.sending.bounces import BounceReport
from engage.sending.models import BounceEvent
from engage.subscriptions import emails, service
from tests.conftest import csrf_token
from tests.newsletters_ui.conftest import (
    build_deliveries,
    build_newsletter,
    build_subscriber,
    build_topics,
    sign_in,
)
from tests.newsletters_ui.conftest import editor as editor  # noqa: F401 (a fixture)

DIAGNOSTIC = "smtp; 550 5.1.1 <{email}>: Recipient address rejected: unknown"


def report(row, kind: str, status: str = "", email: str = "") -> BounceReport:
    return BounceReport(
        kind=kind,
        recipient=None,
        token=verp.VerpToken("d", row.id),
        status=status,
        diagnostic=DIAGNOSTIC.format(email=email),
        source="arf" if kind == "complaint" else "dsn",
    )


def sent_newsletter(db, count: int = 5):
    topic = build_topics(db.session)["newsletter"]
    readers = [build_subscriber(db.session, [topic]) for _ in range(count)]
    newsletter = build_newsletter(db.session, [topic], status="sent")
    rows = build_deliveries(db.session, newsletter, readers, ["sent"] * count)
    return newsletter, readers, rows


def figure(page: str, name: str) -> int:
    match = re.search(rf'data-figure="{name}">(\d+)<', page)
    assert match, f"no {name} figure on the page"
    return int(match.group(1))


def test_the_send_s_report_counts_bounces_and_complaints(client, ctx, db, editor):  # noqa: F811
    newsletter, readers, rows = sent_newsletter(db)
    bounces.apply(db.session, report(rows[0], "hard", "5.1.1", readers[0].email))
    bounces.apply(db.session, report(rows[1], "soft", "4.2.2"))
    bounces.apply(db.session, report(rows[2], "hard", "5.7.1"))  # a policy block: soft
    bounces.apply(db.session, report(rows[3], "complaint"))
    db.session.commit()
    sign_in(client, editor)

    page = client.get(f"/admin/newsletters/{newsletter.id}").get_data(as_text=True)

    assert "Bounces and complaints" in page
    assert figure(page, "hard-bounces") == 1
    assert figure(page, "soft-bounces") == 2
    assert figure(page, "complaints") == 1
    assert "only after 3 within 30 days" in page


def test_the_api_lists_a_subscriber_s_bounces_without_the_server_s_words(ctx, db, client):
    newsletter, readers, rows = sent_newsletter(db, 1)
    bounces.apply(db.session, report(rows[0], "hard", "5.1.1", readers[0].email))
    _, secret = create_api_key(db.session, "bounces test", "editor")
    db.session.commit()

    response = client.get(
        f"/api/v1/subscribers/{readers[0].id}", headers={"Authorization": f"Bearer {secret}"}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "unsubscribed"
    [event] = body["bounces"]
    assert event["kind"] == "hard" and event["status"] == "5.1.1" and event["source"] == "dsn"
    assert event["occurred_at"]
    assert "diagnostic" not in event and "Recipient address" not in response.get_data(as_text=True)


def test_the_reader_s_export_lists_their_bounces_and_erasure_forgets_them(client, ctx, db):
    newsletter, readers, rows = sent_newsletter(db, 1)
    reader = readers[0]
    bounces.apply(db.session, report(rows[0], "soft", "4.2.2"))
    db.session.commit()
    url = emails.preferences_url(reader).removeprefix("http://engage.test")

    response = client.post(url + "/export", data={"csrf_token": csrf_token(client, url)})

    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))
    [event] = data["bounces"]
    assert set(event) == {"occurred_at", "kind", "status", "source"}
    assert (event["kind"], event["status"], event["source"]) == ("soft", "4.2.2", "dsn")

    service.erase(db.session, reader)
    db.session.commit()
    assert db.session.scalars(select(BounceEvent)).all() == []
