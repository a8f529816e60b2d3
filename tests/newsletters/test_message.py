"""The prebuilt newsletter message: the same message build_message makes, and DKIM-signed
over the RFC 8058 list headers when configured."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from engage.config import ConfigError, Settings, SmtpSettings
from engage.mail.message import build_message, bulk_headers, serialise
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL, personalise
from engage.mail.transport import SmtpTransport
from engage.newsletters.render import render_newsletter
from engage.sending.mime import MessageTemplate, signer_from_settings
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


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def test_dkim_signature_verifies_and_covers_the_list_headers(rendered, tmp_path):
    private, public = _key_pair()
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(private)
    settings = Settings.from_env(
        {
            "DKIM_PRIVATE_KEY": str(key_file),  # a path; the PEM value itself works too
            "DKIM_SELECTOR": "news2026",
            "DKIM_DOMAIN": "engage.test",
        }
    )
    signer = signer_from_settings(settings)
    assert signer is not None
    template = MessageTemplate(rendered, sender=SENDER, domain="engage.test", signer=signer)
    raw = template.build("reader@example.org", VALUES, HEADERS).raw
    assert raw.startswith(b"DKIM-Signature: ")

    record = f"v=DKIM1; k=rsa; p={public}".encode()

    def dns(name, timeout=5):
        assert name == b"news2026._domainkey.engage.test."
        return record

    assert dkim.verify(raw, dnsfunc=dns)
    signature = parsed(raw)["DKIM-Signature"].replace("\r\n", "").replace(" ", "")
    signed = next(part for part in signature.split(";") if part.startswith("h="))
    signed_names = signed[2:].lower().split(":")
    assert "list-unsubscribe" in signed_names and "list-unsubscribe-post" in signed_names
    # A changed unsubscribe link breaks the signature.
    tampered = raw.replace(URL.encode(), URL.replace("Ab", "Zz").encode())
    assert not dkim.verify(tampered, dnsfunc=dns)
    # And the reference path signs too.
    assert dkim.verify(template.build("zoë@example.org", VALUES, HEADERS).raw, dnsfunc=dns)


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
