"""Rate limits key on the client's network: an IPv6 client is its /64, not one address."""

from __future__ import annotations

import pytest

from engage.accounts.service import create_user
from engage.extensions import client_network, hashed_client_key
from tests.conftest import csrf_token


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "192.0.2.7"),
        (None, "unknown"),
    ],
)
def test_the_client_network(address, network):
    assert client_network(address) == network


def test_one_ipv6_slash_64_is_one_key(app):
    def key(address: str) -> str:
        with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
            return hashed_client_key()

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("192.0.2.1") != key("192.0.2.2")
    assert "2001" not in key("2001:db8:1:2::1")  # a keyed hash, never the address


def test_hopping_addresses_inside_a_slash_64_does_not_reset_the_login_limit(client, ctx, db):
    create_user(db.session, "editor@example.org", "correct horse battery staple", "editor")
    db.session.commit()

    def attempt(address: str) -> int:
        client.environ_base["REMOTE_ADDR"] = address
        token = csrf_token(client, "/login")
        data = {"email": "editor@example.org", "password": "wrong password", "csrf_token": token}
        return client.post("/login", data=data).status_code

    statuses = [attempt(f"2001:db8:1:2::{i + 1:x}") for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert attempt("2001:db8:1:3::1") == 401  # the next /64 is someone else
