"""Bounce messages read into reports: DSNs, an Exim bounce, abuse reports; auto-replies,
delays and garbage give nothing. The samples are in tests/sending/bounce_samples/."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.sending import verp
from engage.sending.bounce_mail import parse_message
from engage.sending.bounces import BounceReport

SAMPLES = Path(__file__).parent / "bounce_samples"
KEY = "a-hash-key-that-is-long-enough-for-tests"
BOUNCES = "bounces@engage.test"
READER = "reader@example.org"


def sample(name: str, verp_address: str | None = None, recipient: str = READER) -> bytes:
    """A sample with the VERP address and the reader's address filled in."""
    text = (SAMPLES / name).read_bytes()
    verp_address = verp_address or verp.address(BOUNCES, KEY, verp.DELIVERY, 42)
    return text.replace(b"@@VERP@@", verp_address.encode()).replace(b"@@RCPT@@", recipient.encode())


def parse(raw: bytes, **options) -> list[BounceReport]:
    return parse_message(raw, bounce_address=BOUNCES, key=KEY, **options)


def test_a_postfix_dsn_is_a_hard_bounce_for_the_row_its_address_names():
    [report] = parse(sample("postfix_dsn.eml"))
    assert report.kind == "hard"
    assert report.status == "5.1.1"
    assert report.recipient == READER
    assert report.token == verp.VerpToken("d", 42)
    assert report.source == "dsn"
    assert report.diagnostic.startswith("smtp; 550 5.1.1")
    assert "User unknown" in report.diagnostic
    assert report.event_id == "20261202091244.4Zk7Q1@mail.example.net"


def test_an_exim_bounce_without_a_delivery_status_part_is_read_too():
    [report] = parse(sample("exim_bounce.eml", verp.address(BOUNCES, KEY, verp.OUTBOX, 7)))
    assert report.kind == "hard"
    assert report.recipient == READER
    assert report.status == "5.2.1"
    assert "mailbox has been disabled" in report.diagnostic
    assert report.token == verp.VerpToken("o", 7)


def test_a_delayed_dsn_is_ignored():
    # The sending server is still trying; a "failed" notice follows if it gives up.
    assert parse(sample("delayed_dsn.eml")) == []


def test_an_arf_report_is_a_complaint_about_the_original_recipient():
    [report] = parse(sample("arf_complaint.eml"))
    assert report.kind == "complaint"
    assert report.recipient == READER
    assert report.token == verp.VerpToken("d", 42)
    assert report.source == "arf"


def test_an_arf_report_found_by_the_original_message_s_return_path():
    # A feedback loop mails its reports to its own registered address, not to VERP.
    raw = sample("arf_complaint.eml").replace(
        b"Delivered-To: " + verp.address(BOUNCES, KEY, verp.DELIVERY, 42).encode(),
        b"Delivered-To: abuse-desk@engage.test",
    )
    raw = raw.replace(
        b"To: " + verp.address(BOUNCES, KEY, verp.DELIVERY, 42).encode(), b"To: x@y.z"
    )
    [report] = parse(raw)
    assert report.token == verp.VerpToken("d", 42)


def test_a_not_spam_feedback_report_is_no_complaint():
    raw = sample("arf_complaint.eml").replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    assert parse(raw) == []


def test_an_out_of_office_reply_is_ignored():
    assert parse(sample("out_of_office.eml")) == []
    # Without the headers that say so, its subject gives it away.
    raw = sample("out_of_office.eml")
    for header in (
        b"Auto-Submitted: auto-replied\n",
        b"X-Autoreply: yes\n",
        b"Precedence: auto_reply\n",
    ):
        raw = raw.replace(header, b"")
    assert parse(raw) == []


def test_garbage_gives_nothing(caplog):
    assert parse((SAMPLES / "garbage.bin").read_bytes()) == []
    assert parse(b"") == []
    assert parse(b"\r\n\r\nno headers at all") == []
    assert parse(b"Subject: hello\r\n\r\nJust a reply, thanks!") == []


def test_a_huge_message_is_read_in_part_and_never_crashes():
    raw = sample("postfix_dsn.eml")
    huge = raw.replace(b"--\n", b"\n") + b"\n" + b"x" * (5 * 1024 * 1024)
    [report] = parse(huge)
    assert report.kind == "hard"


def test_a_forged_verp_address_makes_the_whole_message_ignored():
    forged = verp.address(BOUNCES, "somebody-else-s-key-somebody-else", verp.DELIVERY, 42)
    # Forged in the address it came to, it names nobody, not even the reader in its body.
    assert parse(sample("postfix_dsn.eml", forged)) == []
    assert parse(sample("arf_complaint.eml", forged)) == []


def test_without_verp_the_report_names_the_reader_only():
    raw = sample("postfix_dsn.eml", "bounces@engage.test")
    [report] = parse(raw)
    assert report.token is None and report.recipient == READER


def test_the_envelope_recipient_names_the_row():
    raw = sample("postfix_dsn.eml", "bounces@engage.test")
    [report] = parse(raw, envelope_recipient=verp.address(BOUNCES, KEY, verp.DELIVERY, 9))
    assert report.token == verp.VerpToken("d", 9)


@pytest.mark.parametrize("name", ["postfix_dsn.eml", "exim_bounce.eml", "arf_complaint.eml"])
def test_samples_read_with_the_app_s_own_settings(app, name):
    with app.app_context():
        key = app.config["ENGAGE"].hash_key
        raw = sample(name, verp.address(BOUNCES, key, verp.DELIVERY, 5))
        [report] = parse_message(raw)  # no BOUNCE_ADDRESS: any base, the check decides
    assert report.token == verp.VerpToken("d", 5)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parse_never_raises(data):
    assert isinstance(parse(data), list)


@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=1800), st.binary(max_size=200))
def test_a_cut_or_spliced_sample_never_raises(cut, noise):
    raw = sample("postfix_dsn.eml")
    assert isinstance(parse(raw[:cut] + noise + raw[cut:]), list)
