"""Flask extensions, created unbound here and bound in `create_app` with `init_app`."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def client_network(address: str | None) -> str:
    """The part of a client address that names one client: an IPv4 address as it is, an IPv6
    address as its /64.

    One IPv6 subscriber line gets a whole /64 (often more) and picks any address in it, so a
    limit per IPv6 address is no limit at all. An IPv4-mapped IPv6 address is its IPv4 one.
    """
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def hashed_client_key() -> str:
    """Rate-limit key: a keyed hash of the client's network (`client_network`), so no raw IP
    reaches the store."""
    secret = current_app.config["SECRET_KEY"].encode()
    network = client_network(request.remote_addr).encode()
    return hmac.new(secret, b"rate-limit:" + network, hashlib.sha256).hexdigest()[:32]


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=hashed_client_key, default_limits=[])
