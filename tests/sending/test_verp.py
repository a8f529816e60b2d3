"""VERP addresses name their row, survive case folding, and cannot be forged."""

from hypothesis import given
from hypothesis import strategies as st

from engage.sending import verp

KEY = "a-hash-key-that-is-long-enough-for-tests"


def test_address_round_trip():
    address = verp.address("bounces@example.org", KEY, verp.DELIVERY, 42)
    assert address.startswith("bounces+d42.")
    assert address.endswith("@example.org")
    assert verp.parse(address, KEY, "bounces@example.org") == verp.VerpToken("d", 42)
    assert verp.parse(f"<{address.upper()}>", KEY) == verp.VerpToken("d", 42)


def test_outbox_token_and_bare_token():
    tok = verp.token(KEY, verp.OUTBOX, 7)
    assert verp.parse(tok, KEY) == verp.VerpToken("o", 7)


def test_forged_or_foreign_addresses_are_none():
    address = verp.address("bounces@example.org", KEY, verp.DELIVERY, 42)
    forged = address.replace("d42.", "d43.")
    assert verp.parse(forged, KEY) is None
    assert verp.parse(address, "another-key-entirely-another-key") is None
    assert verp.parse(address, KEY, "bounces@example.net") is None
    assert verp.parse(address, KEY, "returns@example.org") is None
    assert verp.parse("bounces@example.org", KEY) is None
    assert verp.parse("", KEY) is None


@given(st.text(max_size=80))
def test_parse_never_raises(value):
    result = verp.parse(value, KEY, "bounces@example.org")
    assert result is None or isinstance(result, verp.VerpToken)
