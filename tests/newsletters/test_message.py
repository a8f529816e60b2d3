"""The prebuilt newsletter message: the same message build_message makes, and DKIM-signed by
the transport over the RFC 8058 list headers when configured."""

from __future__ import annotations

import pytest

from engage.config import ConfigError, Settings, SmtpSettings
from engage.mail.message import build_message, bulk_headers, serialise
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL, Rendered, personalise
from engage.mail.signing import signer_from_settings
from engage.mail.transport import SmtpTransport
from engage.newsletters.render import render_newsletter
from engage.sending.mime import MessageTemplate
from tests.support.dkim import (
    KeyPair,
    check_wire_headers,
    decoded,
    signed_headers,
    unfolded_headers,
)
from tests.support.smtp import Received

URL = "http://engage.test/u/AbCdEfGhIjKlMnOpQrStUv"
VALUES = {UNSUBSCRIBE_URL: URL, PREFERENCES_URL: "http://engage.test/preferences/tok.en-x"}
HEADERS = bulk_headers("Énigma news <news.engage.test>", URL)
SENDER = "Engage <news@engage.test>"


@pytest.fixture
def rendered(ctx):
    body = "Héllo,\n\nA [new group](https://example.org/g/1) meets.   \n\n" + "Long line. " * 40
    return render_newsletter("Nouvelles du lundi ✿", "Preview", body)


def parsed(raw: bytes):
    return Received("", [], raw).message


def test_the_prebuilt_message_matches_build_message(rendered):
    template = MessageTemplate(rendered, sender=SENDER, domain="engage.test")
    fast = template.build("reader@example.org", VALUES, HEADERS)
    reference = serialise(
        build_message(
            personalise(rendered, VALUES),
            "reader@example.org",
            sender=SENDER,
            headers=HEADERS,
            domain="engage.test",
        )
    )
    assert fast.sender == "news@engage.test" and fast.recipient == "reader@example.org"
    assert f"\r\nList-Unsubscribe: <{URL}>\r\n".encode() in fast.raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in fast.raw
    assert all(len(line) <= 998 for line in fast.raw.split(b"\r\n"))
    assert b"\n" not in fast.raw.replace(b"\r\n", b"")
    ours, theirs = parsed(fast.raw), parsed(reference)
    for name in ("From", "To", "Subject", "List-Id", "List-Unsubscribe", "MIME-Version"):
        assert str(ours[name]) == str(theirs[name]), name
    assert ours.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        assert ours.get_body((kind,)).get_content() == theirs.get_body((kind,)).get_content()
    assert ours["Message-ID"].endswith("@engage.test>")


def test_a_non_ascii_address_takes_the_reference_path(rendered):
    template = MessageTemplate(rendered, sender=SENDER, domain="engage.test")
    message = template.build("zoë@example.org", VALUES, HEADERS)
    assert message.international
    assert message.recipient == "zoë@example.org"
    assert "\r\nTo: zoë@example.org\r\n".encode() in message.raw  # RFC 6532 UTF-8 headers
    with pytest.raises(ValueError, match="line break"):
        template.build("reader@example.org", VALUES, {"List-Id": "a\r\nBcc: x@example.org"})


def test_the_transport_signs_over_the_list_headers(rendered, tmp_path, smtp_server):
    keys = KeyPair.generate()
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(keys.private_pem)
    settings = Settings.from_env(
        {
            "DKIM_PRIVATE_KEY": str(key_file),  # a path; the PEM value itself works too
            "DKIM_SELECTOR": keys.selector,
            "DKIM_DOMAIN": keys.domain,
        }
    )
    signer = signer_from_settings(settings)
    assert signer is not None
    template = MessageTemplate(rendered, sender=SENDER, domain="engage.test")
    smtp = SmtpSettings.from_url(smtp_server.url)
    with SmtpTransport(smtp, signer=signer) as transport:
        for to in ("reader@example.org", "zoë@example.org"):  # the fast and reference paths
            message = template.build(to, VALUES, HEADERS)
            assert b"DKIM-Signature" not in message.raw  # signed by the transport only
            transport.send_raw(
                message.sender,
                [message.recipient],
                message.raw,
                international=message.international,
            )
    for received in smtp_server.wait_for(2):
        raw = received.raw
        assert raw.startswith(b"DKIM-Signature: ")
        assert keys.verify(raw)
        signed = signed_headers(raw)
        for name in ("list-id", "list-unsubscribe", "list-unsubscribe-post", "from", "subject"):
            assert signed.count(name) == 2, name  # once, and once more (over-signed)
        assert "auto-submitted" not in signed  # list mail is not auto-submitted
        # A changed unsubscribe link, or a second Subject, breaks the signature.
        assert not keys.verify(raw.replace(URL.encode(), URL.replace("Ab", "Zz").encode()))
        head, body = raw.split(b"\r\n\r\n", 1)
        assert not keys.verify(head + b"\r\nSubject: Win a prize\r\n\r\n" + body)


def test_dkim_settings_come_together_or_not_at_all():
    assert signer_from_settings(Settings.from_env({})) is None
    with pytest.raises(ConfigError, match="together"):
        Settings.from_env({"DKIM_SELECTOR": "s"})
    with pytest.raises(ConfigError, match="PEM"):
        Settings.from_env(
            {"DKIM_PRIVATE_KEY": "/no/such/key", "DKIM_SELECTOR": "s", "DKIM_DOMAIN": "d"}
        )


@pytest.mark.parametrize(
    ("stored", "rcpt"),
    [
        ("reader@example.org", "reader@example.org"),
        ("reader@exämple.org", "reader@xn--exmple-cua.org"),  # the prebuilt path
        ("ñoño@example.org", "ñoño@example.org"),  # build_message's path (SMTPUTF8)
    ],
)
def test_a_bulk_message_goes_to_the_stored_address(rendered, smtp_server, stored, rcpt):
    template = MessageTemplate(rendered, sender=SENDER, domain="engage.test")
    outgoing = template.build(stored, VALUES, HEADERS)
    assert outgoing.recipient == rcpt
    with SmtpTransport(SmtpSettings.from_url(smtp_server.url)) as transport:
        transport.send_raw(
            outgoing.sender,
            [outgoing.recipient],
            outgoing.raw,
            international=outgoing.international,
        )
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == [rcpt]


AUDIT_SUBJECTS = [
    "Ünïcödé " * 25,  # 200 characters of accented text
    "😀" * 250,  # once 1,089 characters on one line
    "Needs care: a reply is waiting on “Quand l’anxiété revient : parler à son médecin”",
    "A plain subject that is long enough to need folding once or twice " * 3,
]


@pytest.mark.parametrize("subject", AUDIT_SUBJECTS)
def test_long_and_non_ascii_subjects_fold_into_short_encoded_words(ctx, subject):
    subject = " ".join(subject.split())
    rendered = Rendered(subject=subject, html="<p>%%UNSUBSCRIBE_URL%%</p>", text="x")
    sender = "Zoë Ünïcödé-Långnamé · Rédaction des groupes de soutien <news@engage.test>"
    fast = MessageTemplate(rendered, sender=sender, domain="engage.test").build(
        "reader@example.org", VALUES, HEADERS
    )
    reference = serialise(
        build_message(
            personalise(rendered, VALUES), "reader@example.org", sender=sender, headers=HEADERS
        )
    )
    for raw in (fast.raw, reference):
        check_wire_headers(raw)
        fields = dict(unfolded_headers(raw))
        assert decoded(fields["Subject"]) == subject
        assert decoded(fields["From"]) == sender
        # The list headers stay on one line each, as mail clients need them.
        assert f"\r\nList-Unsubscribe: <{URL}>\r\n".encode() in raw
        assert parsed(raw)["Subject"] == subject  # and Python's own parser agrees


def test_an_international_message_folds_without_encoded_words(ctx):
    subject = "Ünïcödé " * 25
    rendered = Rendered(subject=subject.strip(), html="<p>x</p>", text="x")
    raw = serialise(build_message(rendered, "zoë@example.org", sender=SENDER))
    check_wire_headers(raw)
    assert b"=?" not in raw.split(b"\r\n\r\n", 1)[0]  # RFC 6532: UTF-8 headers as they are
    assert parsed(raw)["Subject"] == subject.strip()
