import pytest

from engage.mail import emails
from engage.mail.errors import MailNotConfigured, PermanentFailure
from engage.mail.message import bulk_headers
from engage.mail.render import UnknownEmail
from engage.mail.service import queue_email, send_transactional, smtp_settings


def test_send_transactional_delivers_the_test_message(ctx, smtp_server):
    reply = send_transactional(
        "test_message", "admin@example.org", emails.test_message("admin@example.org")
    )

    assert reply.startswith("250 ")
    [received] = smtp_server.wait_for(1)
    msg = received.message
    assert received.rcpt_tos == ["admin@example.org"]
    assert received.mail_from == "news@engage.test"
    assert msg["From"] == "Engage <news@engage.test>"
    assert msg["To"] == "admin@example.org"
    assert msg["Subject"] == "Test email from Engage"
    assert msg["Message-ID"].endswith("@engage.test>")
    assert msg["Date"]
    for header in ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert header not in msg  # transactional mail is not list mail
    text = msg.get_body(("plain",)).get_content()
    assert "check the mail set-up" in " ".join(text.split())  # wrapped at 72 columns
    assert "Need help now?" in text
    assert "Need help now?" in msg.get_body(("html",)).get_content()


def test_send_transactional_adds_list_headers_when_given(ctx, smtp_server):
    url = "https://engage.test/u/" + "b" * 60
    send_transactional(
        "test_message",
        "member@example.org",
        {**emails.test_message("member@example.org"), "unsubscribe_url": url},
        headers=bulk_headers("News <news.engage.test>", url),
    )
    [received] = smtp_server.wait_for(1)
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in received.raw
    assert received.message["List-Id"] == "News <news.engage.test>"
    assert f'href="{url}"' in received.message.get_body(("html",)).get_content()


def test_send_transactional_raises_a_permanent_failure_without_retrying(ctx, smtp_server):
    smtp_server.script("554 5.7.1 Rejected")
    with pytest.raises(PermanentFailure):
        send_transactional("test_message", "a@example.org", emails.test_message("a@example.org"))
    assert smtp_server.messages == []


def test_queue_email_refuses_unknown_emails_at_once(ctx):
    with pytest.raises(UnknownEmail):
        queue_email("no_such_email", "a@example.org", {})


def test_without_smtp_url_only_development_has_a_default(make_app):
    with make_app(SMTP_URL="").app_context(), pytest.raises(MailNotConfigured):
        smtp_settings()
    with make_app(SMTP_URL="", ENGAGE_ENV="development").app_context():
        assert smtp_settings().port == 8025
