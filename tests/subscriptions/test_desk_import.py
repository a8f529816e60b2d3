"""Importing subscribers from a CSV file on /admin/subscribers/import: the API's rules (double
opt-in unless there is evidence of consent), each row whole or rejected with a reason."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from engage.subscriptions.models import Subscriber
from tests.conftest import csrf_token
from tests.subscriptions.test_desk import sign_in

PAGE = "/admin/subscribers/import"


def upload(client, content: bytes, name: str = "readers.csv"):
    data = {"csrf_token": csrf_token(client, PAGE), "file": (io.BytesIO(content), name)}
    return client.post(PAGE, data=data, content_type="multipart/form-data")


def rejected(html: str) -> list[tuple[str, str]]:
    table = html.split('id="rejected"', 1)[1].split("</table>", 1)[0]
    return re.findall(
        r'data-label="Row">(\d+)</td><td data-label="Address"[^>]*>([^<]*)</td>', table
    )


def test_a_csv_is_imported_with_double_opt_in(client, db, ctx, topics, tasks, smtp_server):
    sign_in(client, db.session)
    content = (
        "\ufeffEmail,topics,digest,confirmed,consent_source,consent_text,consented_at\r\n"
        "new@example.org,groups-news,weekly,,,,\r\n"
        "kept@example.org,,,yes,https://old.example/form,Yes please,2024-05-01T09:30:00+02:00\r\n"
        "not an address,,,,,,\r\n"
        "when@example.org,,,yes,https://old.example/form,Yes,last tuesday\r\n"
        "NEW@example.org,,,,,,\r\n"
    ).encode()
    response = upload(client, content)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "2 new, 0 updated, 3 not imported." in html
    assert "1 confirmation email on the way" in html
    assert rejected(html) == [
        ("4", "not an address"),
        ("5", "when@example.org"),
        ("6", "NEW@example.org"),
    ]
    assert "consented_at must be a date and time with its offset" in html
    people = {s.email: s for s in db.session.scalars(select(Subscriber))}
    assert people["new@example.org"].status == "pending"
    assert [t.slug for t in people["new@example.org"].topics] == ["groups-news"]
    assert people["new@example.org"].digest == "weekly"
    assert people["kept@example.org"].status == "confirmed"
    assert people["kept@example.org"].consents[0].source == "https://old.example/form"
    assert tasks.run() == ["engage.send_email"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["new@example.org"]
    assert received.message["Subject"] == "Please confirm your subscription to Engage"


def test_a_file_that_is_no_csv_gets_a_clear_message(client, db, ctx, topics):
    sign_in(client, db.session)
    for content, message in (
        (b"\xff\xfe\x00e\x00m", "The file is not UTF-8 text"),
        (
            b"address,name\r\nx@example.org,X\r\n",
            "one of them “email”",
        ),
        (b"email\r\n", "a header but no rows"),
    ):
        response = upload(client, content)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    response = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE)})
    assert response.status_code == 400
    assert "Choose a CSV file" in response.get_data(as_text=True)
    assert db.session.scalars(select(Subscriber)).all() == []


def test_more_rows_than_one_import_takes_are_refused_whole(client, db, ctx, topics):
    sign_in(client, db.session)
    lines = "".join(f"r{n}@example.org\r\n" for n in range(1001))
    response = upload(client, f"email\r\n{lines}".encode())
    assert response.status_code == 400
    assert "more than 1,000 rows" in response.get_data(as_text=True)
    assert db.session.scalars(select(Subscriber)).all() == []


def test_a_moderator_cannot_import(client, db, ctx):
    sign_in(client, db.session, "moderator")
    assert client.get(PAGE).status_code == 403
