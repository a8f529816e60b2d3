"""/dev/outbox: what the development SMTP sink stored, in development only."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engage.config import SmtpSettings
from engage.mail import emails
from engage.mail.errors import TemporaryFailure
from engage.mail.message import build_message, bulk_headers
from engage.mail.render import render_email
from engage.mail.sink import MESSAGE_NAME, start_sink
from engage.mail.transport import SmtpTransport
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def outbox(dev_app):
    return Path(dev_app.instance_path) / "outbox"


@pytest.fixture
def sink(outbox):
    controller = start_sink(outbox, port=free_port())
    yield SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5)
    controller.stop()


def send(app, settings, *recipients, headers=None):
    with app.app_context():
        rendered = render_email("test_message", emails.test_message(recipients[0]))
        with SmtpTransport(settings) as transport:
            for to in recipients:
                msg = build_message(
                    rendered, to, sender="Engage <news@engage.test>", headers=headers
                )
                transport.send(msg)


def stored(outbox: Path) -> list[str]:
    return sorted(p.name for p in outbox.glob("*.eml"))


def test_the_sink_stores_each_message_as_a_file(dev_app, sink, outbox):
    send(dev_app, sink, "one@example.org", "two@example.org")

    names = stored(outbox)
    assert len(names) == 2
    assert all(MESSAGE_NAME.match(name) for name in names)
    raw = (outbox / names[0]).read_bytes()
    assert b"To: one@example.org\r\n" in raw
    assert not list(outbox.glob("*.part"))


def test_outbox_lists_messages_newest_first(dev_app, sink, outbox):
    send(dev_app, sink, "first@example.org")
    send(dev_app, sink, "second@example.org")

    page = dev_app.test_client().get("/dev/outbox")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.index("second@example.org") < body.index("first@example.org")
    assert "Test email from Engage" in body
    assert "news@engage.test" in body
    assert "Need help now?" in body  # extends the site layout


def test_outbox_shows_one_message_with_headers_text_and_sandboxed_html(dev_app, sink, outbox):
    headers = bulk_headers("News <news.engage.test>", "https://engage.test/u/abc")
    send(dev_app, sink, "reader@example.org", headers=headers)
    [name] = stored(outbox)
    client = dev_app.test_client()

    page = client.get(f"/dev/outbox/{name}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "reader@example.org" in body
    assert "&lt;https://engage.test/u/abc&gt;" in body  # List-Unsubscribe, escaped
    assert "List-Unsubscribe=One-Click" in body
    assert "This is a test email from Engage" in body  # the plain-text part
    iframe = re.search(r"<iframe[^>]*>", body).group(0)
    assert 'sandbox=""' in iframe
    assert f'src="/dev/outbox/{name}/html"' in iframe

    html = client.get(f"/dev/outbox/{name}/html")
    assert html.status_code == 200
    assert html.mimetype == "text/html"
    csp = html.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert "script-src" not in csp
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "<!doctype html>" in html.get_data(as_text=True)

    raw = client.get(f"/dev/outbox/{name}/raw")
    assert raw.status_code == 200 and raw.mimetype == "text/plain"
    assert b"List-Unsubscribe: <https://engage.test/u/abc>" in raw.data


@pytest.mark.parametrize(
    "path",
    [
        "/dev/outbox/..%2Fengage.db",
        "/dev/outbox/..%2F..%2Fetc%2Fpasswd",
        "/dev/outbox/../../etc/passwd",
        "/dev/outbox/20240101T000000.000000Z-0123456789abcdef.eml",  # well formed, absent
        "/dev/outbox/20240101T000000.000000Z-0123456789abcdef.eml/html",
        "/dev/outbox/%2Fetc%2Fpasswd/raw",
        "/dev/outbox/.eml",
    ],
)
def test_outbox_refuses_anything_but_stored_message_names(dev_app, outbox, path):
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox.parent / "engage.db").write_bytes(b"secret")
    assert dev_app.test_client().get(path).status_code == 404


def test_outbox_is_empty_before_any_mail(dev_app):
    page = dev_app.test_client().get("/dev/outbox")
    assert page.status_code == 200
    assert "No messages yet." in page.get_data(as_text=True)


def test_outbox_does_not_exist_outside_development(client, make_app):
    assert client.get("/dev/outbox").status_code == 404
    production = make_app(ENGAGE_ENV="production", BASE_URL="https://engage.test")
    assert production.test_client().get("/dev/outbox").status_code == 404


def test_the_sink_command_runs_until_terminated(tmp_path, dev_app):
    port = free_port()
    folder = tmp_path / "outbox"
    process = subprocess.Popen(
        [sys.executable, "-m", "engage.mail.sink", "--port", str(port), "--folder", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, timeout=5)
        deadline = time.monotonic() + 15
        while True:
            try:
                send(dev_app, settings, "cli@example.org")
                break
            except TemporaryFailure:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert len(stored(folder)) == 1
        process.terminate()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
