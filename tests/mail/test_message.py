import email
import email.policy
import re

import pytest

from engage.mail import emails
from engage.mail.message import build_message, bulk_headers, serialise
from engage.mail.render import Rendered, render_email

SENDER = "Engage <news@engage.test>"
LONG_UNSUBSCRIBE = "https://engage.test/u/" + "Zm9vYmFy" * 12  # far past 78 characters


@pytest.fixture
def rendered(ctx):
    return render_email("test_message", emails.test_message("reader@example.org"))


def header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def test_message_has_both_parts_and_identity_headers(rendered):
    msg = build_message(rendered, "Reader <reader@example.org>", sender=SENDER)
    parsed = email.message_from_bytes(serialise(msg), policy=email.policy.default)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content().strip().startswith("Engage")
    assert "<!doctype html>" in parsed.get_body(("html",)).get_content()
    assert parsed["From"] == SENDER
    assert parsed["To"] == "Reader <reader@example.org>"
    assert parsed["Subject"] == "Test email from Engage"
    assert parsed["MIME-Version"] == "1.0"
    assert re.fullmatch(r"<[^@<>]+@engage\.test>", parsed["Message-ID"])
    assert parsed["Date"].datetime is not None
    assert "List-Unsubscribe" not in parsed  # transactional mail


def test_message_ids_are_unique_and_domain_falls_back_to_the_site(rendered):
    first = build_message(rendered, "a@example.org", sender=SENDER)
    second = build_message(rendered, "a@example.org", sender=SENDER, domain="engage.example")
    assert first["Message-ID"] != second["Message-ID"]
    assert second["Message-ID"].endswith("@engage.example>")


def test_long_list_unsubscribe_stays_on_one_line_in_raw_bytes(rendered):
    headers = bulk_headers("Engage newsletter <newsletter.engage.test>", LONG_UNSUBSCRIBE)
    raw = serialise(build_message(rendered, "reader@example.org", sender=SENDER, headers=headers))

    lines = header_lines(raw)
    unsubscribe = [line for line in lines if line.lower().startswith(b"list-unsubscribe:")]
    assert unsubscribe == [f"List-Unsubscribe: <{LONG_UNSUBSCRIBE}>".encode()]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    assert b"List-Id: Engage newsletter <newsletter.engage.test>" in lines
    assert b"=?" not in b"\r\n".join(lines)  # nothing RFC 2047-encoded
    # No list header is folded: the line after each is a header of its own. (Content-Type
    # is folded at its boundary parameter, which no mail client minds.)
    for index, line in enumerate(lines[:-1]):
        if line.lower().startswith(b"list-"):
            assert lines[index + 1][:1] not in (b" ", b"\t"), line
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_body_lines_are_short_and_ascii_on_the_wire(ctx):
    rendered = Rendered(
        subject="Caf\u00e9 news", html="<p>" + "\u00e9" * 500 + "</p>", text="x" * 2000
    )
    raw = serialise(build_message(rendered, "reader@example.org", sender=SENDER))
    raw.decode("ascii")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert raw.count(b"MIME-Version") == 1
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Caf\u00e9 news"
    text = parsed.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "x" * 2000 + "\n"  # the parser keeps CRLF


@pytest.mark.parametrize(
    "field",
    ["to", "sender", "subject", "header_value", "header_name"],
)
def test_header_injection_is_refused(rendered, field):
    to, sender, headers = "reader@example.org", SENDER, {}
    evil = "x@example.org\r\nBcc: victim@example.org"
    if field == "to":
        to = evil
    elif field == "sender":
        sender = evil
    elif field == "subject":
        rendered = Rendered(subject="Hi\nBcc: victim@example.org", html="", text="")
    elif field == "header_value":
        headers = {"List-Id": "news\r\nBcc: victim@example.org"}
    else:
        headers = {"X-Evil\r\nBcc": "victim@example.org"}
    with pytest.raises(ValueError, match="line break"):
        build_message(rendered, to, sender=sender, headers=headers)


def test_reserved_headers_and_bad_addresses_are_refused(rendered):
    with pytest.raises(ValueError, match="set by build_message"):
        build_message(rendered, "a@example.org", sender=SENDER, headers={"Subject": "x"})
    with pytest.raises(ValueError, match="not an email address"):
        build_message(rendered, "not an address", sender=SENDER)


@pytest.mark.parametrize(
    ("said", "stored"),
    [
        (
            "550 5.1.1 <someone@example.org>: Recipient address rejected",
            "550 5.1.1 <s•••@example.org>: Recipient address rejected",
        ),
        (
            "452 4.2.2 Mailbox full: Bob.Smith+news@mail.example.co.uk",
            "452 4.2.2 Mailbox full: B•••@mail.example.co.uk",
        ),
        (
            "{'ann@example.org': (550, b'5.1.1 <ann@example.org> unknown')}",
            "{'a•••@example.org': (550, b'5.1.1 <a•••@example.org> unknown')}",
        ),
        ('550 "john doe"@example.org unknown', "550 j•••@example.org unknown"),
        ("550 5.1.1 <ünïcode@bücher.example> unknown", "550 5.1.1 <ü•••@bücher.example> unknown"),
        ("550 bounce+ann=example.org@lists.example", "550 b•••@lists.example"),
        ("250 2.0.0 Ok: queued as 4ZQ1xN3", "250 2.0.0 Ok: queued as 4ZQ1xN3"),
        ("", ""),
    ],
)
def test_addresses_in_server_replies_are_masked(said, stored):
    from engage.mail.message import redact_addresses

    assert redact_addresses(said) == stored
    assert redact_addresses(stored) == stored  # masking twice changes nothing


def test_the_logs_of_the_send_code_mask_addresses(app, caplog):
    import logging

    caplog.set_level(logging.INFO)
    try:
        raise RuntimeError("550 5.1.1 <someone@example.org>: unknown")
    except RuntimeError:
        logging.getLogger("engage.mail.transport").exception("refused: %s", "<x@example.org>")
    assert [r.name for r in caplog.records] == ["engage.mail.transport"]
    assert "x•••@example.org" in caplog.text and "s•••@example.org" in caplog.text
    assert "x@example.org" not in caplog.text and "someone@example.org" not in caplog.text
