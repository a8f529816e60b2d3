"""One rule for every address typed into Engage: RFC 2047 encoded words are refused."""

from __future__ import annotations

import pytest

from engage.addresses import InvalidAddress, normalise_email

# Each decodes (in Python's email package and in mail clients) to victim@example.org.
ENCODED = [
    "=?utf-8?q?victim?=@example.org",
    "=?UTF-8?Q?victim?=@example.org",
    "=?us-ascii?q?victim?=@example.org",
    "=?iso-8859-1?q?victim?=@example.org",
    "=?ISO-8859-1?B?dmljdGlt?=@example.org",
    "=?utf-8?b?dmljdGlt?=@Example.org",
    "=?utf-8*en?q?victim?=@example.org",
    "  =?Utf-8?Q?vic=74im?=@example.org ",
    "x=?utf-8?q?victim?=@example.org",
]


@pytest.mark.parametrize("address", ENCODED)
def test_encoded_words_are_refused_with_a_message(address):
    with pytest.raises(InvalidAddress, match="cannot contain “=\\?”"):
        normalise_email(address)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Reader@Example.org", "reader@example.org"),
        ("a=b?c@example.org", "a=b?c@example.org"),  # = and ? apart are ordinary characters
        ("ñoño@example.org", "ñoño@example.org"),
    ],
)
def test_ordinary_addresses_are_normalised(typed, stored):
    assert normalise_email(typed) == stored
