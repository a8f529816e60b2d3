import socket
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from engage.config import ConfigError, SmtpSettings
from engage.mail import emails
from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.message import build_message
from engage.mail.render import render_email
from engage.mail.transport import SmtpTransport, send_with_retry
from tests.support.smtp import RecordingHandler, free_port

SENDER = "Engage <news@engage.test>"


@pytest.fixture
def smtp(smtp_server) -> SmtpSettings:
    return SmtpSettings.from_url(smtp_server.url + "?timeout=5")


@pytest.fixture
def make_message(ctx):
    rendered = render_email("test_message", emails.test_message("reader@example.org"))

    def make(to="reader@example.org"):
        return build_message(rendered, to, sender=SENDER)

    return make


def test_a_batch_uses_one_connection(smtp, smtp_server, make_message):
    with SmtpTransport(smtp) as transport:
        replies = [transport.send(make_message(f"reader{i}@example.org")) for i in range(5)]

    assert all(reply.startswith("250 2.0.0") for reply in replies)
    received = smtp_server.wait_for(5)
    assert [r.rcpt_tos for r in received] == [[f"reader{i}@example.org"] for i in range(5)]
    assert smtp_server.handler.connections == 1
    assert received[0].mail_from == "news@engage.test"


def test_the_raw_message_arrives_unchanged(smtp, smtp_server, make_message):
    msg = make_message()
    with SmtpTransport(smtp) as transport:
        transport.send(msg)
    [received] = smtp_server.wait_for(1)
    assert received.message["Message-ID"] == msg["Message-ID"]
    assert received.message["Subject"] == "Test email from Engage"
    assert received.message.get_body(("html",)) is not None
    assert received.message.get_body(("plain",)) is not None


def test_a_temporary_failure_is_retried_and_delivered_once(smtp, smtp_server, make_message):
    smtp_server.script("451 4.3.0 Try again later")
    delays = []
    with SmtpTransport(smtp) as transport:
        reply = send_with_retry(
            transport, make_message(), attempts=3, backoff=0.01, sleep=delays.append
        )

    assert reply.startswith("250")
    assert len(smtp_server.wait_for(1)) == 1
    assert delays == [0.01]
    assert smtp_server.handler.connections == 1  # a 4xx keeps the connection


def test_a_dropped_connection_is_reopened(smtp, smtp_server, make_message):
    smtp_server.script("drop")
    with SmtpTransport(smtp) as transport:
        reply = send_with_retry(transport, make_message(), attempts=3, backoff=0.01)
        assert reply.startswith("250")
        transport.send(make_message("second@example.org"))  # the new connection is kept

    assert [r.rcpt_tos for r in smtp_server.wait_for(2)] == [
        ["reader@example.org"],
        ["second@example.org"],
    ]
    assert smtp_server.handler.connections == 2


def test_a_permanent_failure_is_final(smtp, smtp_server, make_message):
    smtp_server.script("550 5.1.1 No such user")
    delays = []
    with SmtpTransport(smtp) as transport:
        with pytest.raises(PermanentFailure) as failure:
            send_with_retry(
                transport, make_message(), attempts=5, backoff=0.01, sleep=delays.append
            )
        assert failure.value.code == 550
        assert "No such user" in failure.value.text
        # The connection is still good for the rest of the batch.
        transport.send(make_message("next@example.org"))

    assert delays == []
    assert [r.rcpt_tos for r in smtp_server.wait_for(1)] == [["next@example.org"]]


def test_temporary_failures_give_up_after_the_attempts_with_growing_backoff(
    smtp, smtp_server, make_message
):
    smtp_server.script("451 busy", "452 busy", "421 4.7.0 closing")
    delays = []
    with SmtpTransport(smtp) as transport, pytest.raises(TemporaryFailure) as failure:
        send_with_retry(transport, make_message(), attempts=3, backoff=0.5, sleep=delays.append)
    assert failure.value.code == 421
    assert delays == [0.5, 1.0]
    assert smtp_server.messages == []


class RefusingHandler:
    """Refuses some recipients at RCPT time."""

    def __init__(self, replies: dict[str, str]):
        self.replies = replies
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def refusing_server():
    handler = RefusingHandler(
        {"gone@example.org": "550 5.1.1 User unknown", "full@example.org": "452 4.2.2 Mailbox full"}
    )
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5)
    controller.stop()


def test_a_refused_recipient_is_permanent_for_5xx_and_temporary_for_4xx(
    refusing_server, make_message
):
    handler, settings = refusing_server
    with SmtpTransport(settings) as transport:
        with pytest.raises(PermanentFailure) as gone:
            transport.send(make_message("gone@example.org"))
        with pytest.raises(TemporaryFailure) as full:
            transport.send(make_message("full@example.org"))
        transport.send(make_message("here@example.org"))

    assert gone.value.code == 550 and gone.value.recipients == ("gone@example.org",)
    assert full.value.code == 452
    assert handler.messages == [["here@example.org"]]


def test_connection_refused_is_temporary(make_message):
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    with SmtpTransport(settings) as transport, pytest.raises(TemporaryFailure, match="connect"):
        transport.send(make_message())


def test_a_silent_server_times_out_as_temporary(make_message):
    with socket.socket() as listener:  # accepts connections, never says hello
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], timeout=0.3)
        started = time.monotonic()
        with SmtpTransport(settings) as transport, pytest.raises(TemporaryFailure):
            transport.send(make_message())
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", SmtpSettings(host="127.0.0.1", port=2525)),
        ("smtp://mail.example.org", SmtpSettings(host="mail.example.org", port=25)),
        (
            "smtps://user%40x:p%3Ass@mail.example.org",
            SmtpSettings(
                host="mail.example.org", port=465, username="user@x", password="p:ss", ssl=True
            ),
        ),
        (
            "smtp://u:p@mail.example.org:587?starttls=1&timeout=7.5",
            SmtpSettings(
                host="mail.example.org",
                port=587,
                username="u",
                password="p",
                starttls=True,
                timeout=7.5,
            ),
        ),
    ],
)
def test_smtp_url_parsing(url, expected):
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ConfigError):
        SmtpSettings.from_url(url)


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"engage",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def starttls_server(server_tls):
    handler = RecordingHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def implicit_tls_server(server_tls):
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls)
    controller.start()
    yield handler, controller.port
    controller.stop()


def test_starttls_and_login(starttls_server, client_tls, make_message):
    handler, port = starttls_server
    settings = SmtpSettings.from_url(f"smtp://engage:s3cret@127.0.0.1:{port}?starttls=1&timeout=5")
    with SmtpTransport(settings, ssl_context=client_tls) as transport:
        assert transport.send(make_message()).startswith("250")
    assert [m.rcpt_tos for m in handler.messages] == [["reader@example.org"]]


def test_a_wrong_password_is_temporary_not_a_bounce(starttls_server, client_tls, make_message):
    _, port = starttls_server
    settings = SmtpSettings.from_url(f"smtp://engage:wrong@127.0.0.1:{port}?starttls=1&timeout=5")
    transport = SmtpTransport(settings, ssl_context=client_tls)
    with transport, pytest.raises(TemporaryFailure) as failure:
        transport.send(make_message())
    assert failure.value.code == 535


def test_an_untrusted_certificate_is_refused(starttls_server, make_message):
    _, port = starttls_server
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?starttls=1&timeout=5")
    with SmtpTransport(settings) as transport, pytest.raises(TemporaryFailure, match="CERTIFICATE"):
        transport.send(make_message())


def test_implicit_tls(implicit_tls_server, client_tls, make_message):
    handler, port = implicit_tls_server
    settings = SmtpSettings.from_url(f"smtps://127.0.0.1:{port}?timeout=5")
    with SmtpTransport(settings, ssl_context=client_tls) as transport:
        assert transport.send(make_message()).startswith("250")
    assert [m.rcpt_tos for m in handler.messages] == [["reader@example.org"]]


# --- the envelope comes from the stored address, never from a header -------------------------

ENCODED = "=?utf-8?q?victim?=@example.org"  # "victim@example.org" once a header parser reads it


def test_rcpt_to_is_the_address_the_message_was_built_for(smtp, smtp_server, make_message):
    msg = make_message("reader@example.org")
    # Whatever happens to the headers afterwards, they do not decide who gets the message.
    msg.replace_header("To", "victim@example.org")
    msg["Cc"] = "other@example.org"
    with SmtpTransport(smtp) as transport:
        transport.send(msg)
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["reader@example.org"]


def test_a_stored_encoded_word_address_never_reaches_the_decoded_mailbox(ctx, smtp_server):
    # A row stored before such addresses were refused: its mail must not go to the victim.
    from engage.mail.service import send_transactional

    with pytest.raises(ValueError, match="RFC 2047"):
        send_transactional("test_message", ENCODED, emails.test_message(ENCODED))
    assert smtp_server.messages == []


def test_a_message_built_elsewhere_has_no_envelope_to_guess(smtp):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "reader@example.org"
    msg.set_content("hello")
    with SmtpTransport(smtp) as transport, pytest.raises(ValueError, match="no envelope"):
        transport.send(msg)


@pytest.mark.parametrize(
    "to", ["reader@example.org, victim@example.org", "reader@example.org; victim@example.org"]
)
def test_build_message_takes_one_recipient_only(make_message, to):
    with pytest.raises(ValueError, match="one address"):
        make_message(to)
