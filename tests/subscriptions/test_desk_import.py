"""Importing subscribers from a CSV file on the desk, step by step: upload, map the columns,
say whether the readers confirmed, preview, then a job a worker runs, with its progress and
the rejected rows to download. The API's rules hold throughout (double opt-in unless there is
evidence of consent), each row whole or rejected with a reason."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from engage.sending.models import OutboxMessage
from engage.subscriptions import desk_import, importing
from engage.subscriptions.models import Subscriber
from engage.types import utcnow
from tests.conftest import csrf_token
from tests.subscriptions.test_desk import add, sign_in

PAGE = "/admin/subscribers/import"


def upload(client, content: bytes, name: str = "readers.csv"):
    data = {"csrf_token": csrf_token(client, PAGE), "file": (io.BytesIO(content), name)}
    return client.post(PAGE, data=data, content_type="multipart/form-data")


def map_page(client, content: bytes) -> tuple[str, str]:
    """Upload `content`; returns the mapping page's URL and its HTML."""
    response = upload(client, content)
    assert response.status_code == 303, response.get_data(as_text=True)
    url = response.headers["Location"]
    page = client.get(url)
    assert page.status_code == 200
    return url, page.get_data(as_text=True)


def selected(html: str, field: str) -> str | None:
    """The label of the option chosen for `field` on the mapping page."""
    select_html = html.split(f'name="map-{field}"', 1)[1].split("</select>", 1)[0]
    match = re.search(r'<option value="\d+" selected>([^<]*)</option>', select_html)
    return match.group(1) if match else None


def preview(client, url: str, **fields):
    data = {"csrf_token": csrf_token(client, url), **fields}
    return client.post(url, data=data)


def start(client, url: str, **fields):
    data = {"csrf_token": csrf_token(client, url), **fields}
    return client.post(f"{url}/start", data=data)


def preview_rows(html: str) -> list[tuple[str, str]]:
    """(line, outcome) for each row of the preview table."""
    table = html.split('id="preview"', 1)[1].split("</table>", 1)[0]
    return [
        (line, re.sub(r"<[^>]+>", "", outcome).strip())
        for line, outcome in re.findall(
            r'data-label="Line">(\d+)</td>.*?data-label="Outcome">(.*?)</td>', table, re.S
        )
    ]


def uploads(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "imports").glob("*.csv"))


def job_counts(client, location: str) -> dict:
    response = client.get(f"{location}.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_columns_are_guessed_and_can_be_changed(client, db, ctx, topics):
    sign_in(client, db.session)
    url, html = map_page(
        client,
        b"\xef\xbb\xbfE-mail;Full name;Interests;Opted in\r\n"
        b"ana@example.org;Ana;groups-news;2024-05-01T09:30:00+02:00\r\n",
    )
    assert selected(html, "email") == "E-mail"
    assert selected(html, "topics") == "Interests"
    assert selected(html, "digest") is None
    assert selected(html, "consented_at") == "Opted in"
    assert '<th scope="col">Full name</th>' in html  # the file's header row is shown
    # The editor ignores the topics column and maps nothing else.
    response = preview(
        client,
        url,
        **{"map-email": "0", "map-topics": "", "map-consented_at": "", "confirmed": "no"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert ">Topics</th>" not in html
    assert preview_rows(html) == [("2", "Imported")]
    # Nothing chosen for the address: the editor is told, on the same page.
    response = preview(client, url, **{"map-email": "", "confirmed": "no"})
    assert response.status_code == 400
    assert "Choose the column that holds the email addresses." in response.get_data(as_text=True)
    response = preview(client, url, **{"map-email": "9", "confirmed": "no"})
    assert response.status_code == 400
    assert "Choose a column from the list." in response.get_data(as_text=True)


def test_the_preview_shows_each_bad_row_with_its_reason_and_writes_nothing(client, db, ctx, topics):
    sign_in(client, db.session)
    add(db.session, "gone@example.org", status="unsubscribed")
    db.session.commit()
    url, _ = map_page(
        client,
        b"email,topics\r\n"
        b"new@example.org,groups-news\r\n"
        b"not an address,\r\n"
        b"gone@example.org,\r\n"
        b"other@example.org,no-such-topic\r\n"
        b"NEW@example.org,\r\n",
    )
    response = preview(client, url, **{"map-email": "0", "map-topics": "1", "confirmed": "no"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    lines = dict(preview_rows(html))
    assert lines["2"] == "Imported"
    assert lines["3"].startswith("Not imported:")
    assert "This person unsubscribed" in lines["4"]
    assert lines["5"].startswith("Not imported: topics")
    assert "already appears in row" in lines["6"]
    assert "New addresses become <strong>pending</strong> sign-ups" in html
    addresses = set(db.session.scalars(select(Subscriber.email)))
    assert addresses == {"gone@example.org"}
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_confirmed_import_needs_where_and_what_they_consented_to(
    client, db, ctx, topics, tasks, smtp_server
):
    sign_in(client, db.session)
    url, _ = map_page(
        client,
        b"email,consented\r\nkept@example.org,2024-05-01T09:30:00+02:00\r\n"
        b"when@example.org,last tuesday\r\n",
    )
    mapping = {"map-email": "0", "confirmed": "yes"}
    response = preview(client, url, **mapping)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Say where they consented" in html
    assert "Give the text they agreed to." in html
    assert "Confirmed readers need the column that says when each of them consented." in html
    # Starting without them is refused the same way: nothing is queued.
    assert start(client, url, **mapping).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(importing.ImportJob)) == 0

    mapping.update(
        {
            "map-consented_at": "1",
            "consent_source": "Sign-up sheet, spring meeting 2024",
            "consent_text": "Yes, send me the newsletter.",
        }
    )
    response = preview(client, url, **mapping)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert preview_rows(html)[0] == ("2", "Imported")
    assert "The consent date must be a date and time with its offset" in preview_rows(html)[1][1]
    response = start(client, url, **mapping)
    assert response.status_code == 303
    assert tasks.run() == ["engage.subscriptions.run_import"]
    [kept] = db.session.scalars(select(Subscriber)).all()
    assert (kept.email, kept.status) == ("kept@example.org", "confirmed")
    assert kept.consents[0].source == "Sign-up sheet, spring meeting 2024"
    assert kept.consents[0].text == "Yes, send me the newsletter."
    assert smtp_server.messages == []  # confirmed readers get no email


def test_an_unconfirmed_import_sends_the_confirmation_emails(
    client, db, ctx, topics, tasks, smtp_server
):
    sign_in(client, db.session)
    url, _ = map_page(client, b"email\r\nann@example.org\r\nbob@example.org\r\n")
    response = start(client, url, **{"map-email": "0", "confirmed": "no"})
    assert response.status_code == 303
    ran = tasks.run()
    assert ran[0] == "engage.subscriptions.run_import"
    assert sorted(ran[1:]) == ["engage.send_email", "engage.send_email"]
    received = sorted(smtp_server.messages, key=lambda m: m.rcpt_tos)
    assert [m.rcpt_tos for m in received] == [["ann@example.org"], ["bob@example.org"]]
    for message in received:
        assert message.message["Subject"] == "Please confirm your subscription to Engage"
    statuses = set(db.session.scalars(select(Subscriber.status)))
    assert statuses == {"pending"}


def test_the_job_runs_on_the_worker_path_and_its_progress_page_follows(
    app, client, db, ctx, topics, tasks
):
    sign_in(client, db.session)
    rows = "".join(f"reader{n}@example.org,2024-05-01T09:30:00Z\r\n" for n in range(600))
    url, _ = map_page(client, f"email,consented_at\r\n{rows}bad,\r\n".encode())
    token = url.rsplit("/", 1)[1]
    assert any(path.stem == token for path in uploads(app))
    response = start(
        client,
        url,
        **{
            "map-email": "0",
            "map-consented_at": "1",
            "confirmed": "yes",
            "consent_source": "The old list",
            "consent_text": "Send me the newsletter.",
        },
    )
    location = response.headers["Location"]
    # Its rows are in the job: the upload is gone, and its URL says so.
    assert not any(path.stem == token for path in uploads(app))
    gone = client.get(url, follow_redirects=True).get_data(as_text=True)
    assert "That upload is no longer here" in gone
    assert job_counts(client, location)["status"] == "queued"
    page = client.get(location).get_data(as_text=True)
    assert "Waiting for a worker" in page
    assert f'<a href="{location}">Refresh</a>' in page

    assert tasks.run() == ["engage.subscriptions.run_import"]
    counts = job_counts(client, location)
    assert counts == {
        "status": "done",
        "total": 601,
        "processed": 601,
        "created": 600,
        "updated": 0,
        "rejected": 1,
        "finished": True,
        "error": None,
    }
    page = client.get(location).get_data(as_text=True)
    assert "The import is done." in page
    assert '<dd id="import-created">600</dd>' in page
    assert "Download the rows not imported" in page


def test_the_rejected_rows_download_with_their_cells_and_reasons_made_safe(
    client, db, ctx, topics, tasks
):
    sign_in(client, db.session)
    url, _ = map_page(
        client,
        b"Name;Email;Note\r\n"
        b"Ana;ana@example.org;fine\r\n"
        b'=HYPERLINK("http://evil.example");=cmd|calc;@SUM(1)\r\n'
        b"Ben;ben@;-2\r\n",
    )
    response = start(client, url, **{"map-email": "1", "confirmed": "no"})
    location = response.headers["Location"]
    tasks.run()
    response = client.get(f"{location}/rejected.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == ["line", "Name", "Email", "Note", "reason"]
    assert [line[:4] for line in lines[1:]] == [
        ["3", '\'=HYPERLINK("http://evil.example")', "'=cmd|calc", "'@SUM(1)"],
        ["4", "Ben", "ben@", "'-2"],
    ]
    assert all(line[4] for line in lines[1:])  # each with its reason
    assert db.session.scalars(select(Subscriber.email)).all() == ["ana@example.org"]


def test_hostile_files_get_a_clear_message(app, client, db, ctx, topics):
    sign_in(client, db.session)
    for content, message in (
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The file holds NUL bytes"),
        (b"email\r\nann@example.org\x00\r\n", "The file holds NUL bytes"),
        (b"\xff\xfeem\xe9ail", "The file is not UTF-8 text"),
        (b"email\tname\r\nann@example.org\tAnn\r\n", "separated by tabs or another character"),
        (b"", "The file is empty."),
        (b"email\r\n", "a header line but no rows"),
    ):
        response = upload(client, content)
        assert response.status_code == 400, content
        assert message in response.get_data(as_text=True)
    huge = b"email\r\n" + b"someone@example.org\r\n" * (app.config["MAX_CONTENT_LENGTH"] // 20)
    # The body encoded here, in memory: the test client would spool it to a temporary file
    # that nothing closes when the server refuses it unread.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + csrf_token(client, PAGE).encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + huge + b"\r\n--b--\r\n"
    )
    response = client.post(PAGE, data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "The file is larger than 1 MB" in html
    assert '<input id="import-file"' in html  # the upload page again, to choose another file
    response = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE)})
    assert response.status_code == 400
    assert "Choose a CSV file" in response.get_data(as_text=True)
    assert db.session.scalars(select(Subscriber)).all() == []


def test_an_abandoned_or_unknown_upload_is_gone(app, client, db, ctx, topics):
    sign_in(client, db.session)
    url, _ = map_page(client, b"email\r\nann@example.org\r\n")
    token = url.rsplit("/", 1)[1]
    response = client.post(
        f"{url}/abandon", data={"csrf_token": csrf_token(client, url)}, follow_redirects=True
    )
    assert "The upload is deleted; nothing was imported." in response.get_data(as_text=True)
    assert not any(path.stem == token for path in uploads(app))
    for path in (f"{PAGE}/{token}", f"{PAGE}/..%5C..%5Csecret", f"{PAGE}/short"):
        response = client.get(path, follow_redirects=True)
        assert "That upload is no longer here" in response.get_data(as_text=True)
    assert client.get(f"{PAGE}/..%2F..%2Fsecret").status_code == 404
    assert client.get(f"{PAGE}/jobs/999999").status_code == 404


def test_the_sweep_removes_uploads_left_for_more_than_a_day(app, client, db, ctx, topics):
    sign_in(client, db.session)
    url, _ = map_page(client, b"email\r\nann@example.org\r\n")
    [left] = [path for path in uploads(app) if path.stem == url.rsplit("/", 1)[1]]
    a_day_ago = (utcnow() - desk_import.UPLOAD_TTL - timedelta(minutes=1)).timestamp()
    os.utime(left, (a_day_ago, a_day_ago))
    fresh_url, _ = map_page(client, b"email\r\nbob@example.org\r\n")  # an upload sweeps
    assert not left.exists()
    assert client.get(fresh_url).status_code == 200
