"""Absolute URLs for emails and feeds, always from BASE_URL; and web addresses people give us.

Never from the request's Host header: a forged Host must not end up in a link we email.
Works in a worker too, where there is no request.

`check_web_url` is the one rule for a link someone typed (an event's online link, a group's
contact page): http or https, a host, parseable, no spaces, control characters or characters
that have no place in a URL, and a sane length. `urllib.parse` raises ValueError for some of
them (`http://[::1`, a bad port), which must become a message, never a 500.
`is_web_url` asks the same question without raising, for rendering what is already stored.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna
from flask import current_app

MAX_URL_LENGTH = 500
WEB_SCHEMES = ("http", "https")
# Characters RFC 3986 leaves out of URLs (they must be percent-encoded), which browsers and
# parsers treat in different ways: `\` is a `/` to a browser and not to urllib.
_NOT_IN_URLS = frozenset('<>"\\`{}|^')
_ASCII_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_IGNORED_IN_URLS = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))  # stripped from both ends of a URL
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidUrl(ValueError):
    """A web address we will not link to; the message is fit to show the person."""


def external_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["ENGAGE"].base_url)
    adapter = current_app.url_map.bind(
        base.netloc, url_scheme=base.scheme or "https", script_name=base.path or "/"
    )
    return adapter.build(endpoint, values, force_external=True)


def check_web_url(value: str | None, limit: int = MAX_URL_LENGTH) -> str:
    """`value` stripped, if it is a web address fit to link to. Raises InvalidUrl."""
    url = (value or "").strip()
    if len(url) > limit:
        raise InvalidUrl(f"Please keep the web address under {limit} characters.")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InvalidUrl("A web address cannot contain spaces or line breaks.")
    if any(ch in _NOT_IN_URLS for ch in url):
        raise InvalidUrl(
            'A web address cannot contain < > " \\ ` { } | or ^. Please copy it again from '
            "the browser's address bar."
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsed on access: ValueError for a bad one
        host = parts.hostname
    except ValueError:
        raise InvalidUrl(
            "That web address cannot be read: please check the host name, the port and any "
            "[ ] brackets."
        ) from None
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise InvalidUrl("Please give a web address starting with https:// (or http://).")
    if not host:
        raise InvalidUrl("Please give a full web address, such as https://example.org/page.")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("A web address with a user name or password in it is not accepted.")
    if not _valid_host(host):
        raise InvalidUrl("The site's name in that web address is not valid.")
    return url


def is_web_url(value: str | None) -> bool:
    """Whether `value` passes `check_web_url` (never raises)."""
    try:
        check_web_url(value)
    except InvalidUrl:
        return False
    return True


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal; urlsplit has removed its brackets
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return False
        return True
    host = host.rstrip(".")
    if host.isascii():
        # Letters, digits, hyphens (and the underscores some real hosts have), in labels.
        labels = host.split(".")
        return len(host) <= 253 and all(_ASCII_LABEL.fullmatch(label) for label in labels)
    try:
        idna.encode(host, uts46=True)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def is_remote_resource(url: str, base_url: str) -> bool:
    """Whether loading `url` (an image, a style sheet) reaches anyone but Engage itself.

    Not remote: a `data:` URI, a relative path (in an email it loads nothing; on the web it
    loads from us), an address under `base_url` (same scheme, host and port). Anything else
    is, including what cannot be
    parsed, since a browser may still make something of it. Read as browsers read: tabs and
    line breaks dropped, a backslash taken for a slash.
    """
    value = _IGNORED_IN_URLS.sub("", url or "").strip(_C0_AND_SPACE)
    value = value.replace("\\", "/")
    if not value:
        return False
    if value[:5].lower() == "data:":
        return False
    if not value.startswith("//") and not _SCHEME.match(value):
        return False  # a path on whichever site shows it
    try:
        parts = urlsplit(value)
        base = urlsplit(base_url or "")
        port, base_port = parts.port, base.port
    except ValueError:
        return True
    if not base.hostname or parts.username is not None or parts.password is not None:
        return True
    scheme = parts.scheme.lower() or base.scheme.lower()
    if (scheme, (parts.hostname or "")) != (base.scheme.lower(), base.hostname.lower()):
        return True
    if (port or _DEFAULT_PORTS.get(scheme)) != (base_port or _DEFAULT_PORTS.get(scheme)):
        return True
    prefix = base.path.rstrip("/") + "/"
    return not (parts.path or "/").startswith(prefix)
