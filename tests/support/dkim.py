"""DKIM in tests: a fresh RSA key, its DNS record, and checks of what a signed message says.

`KeyPair.verify(raw)` runs dkimpy's own verification against the key's public half, served
by a `dnsfunc` instead of DNS. `check_wire_headers(raw)` checks the header lines as sent.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.header import decode_header, make_header

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SELECTOR = "news2026"
DOMAIN = "engage.test"
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_b64: str
    selector: str = SELECTOR
    domain: str = DOMAIN

    @classmethod
    def generate(cls, **names) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private, base64.b64encode(public).decode(), **names)

    @property
    def settings(self) -> dict[str, str]:
        """The environment that makes Engage sign with this key."""
        return {
            "DKIM_PRIVATE_KEY": self.private_pem,
            "DKIM_SELECTOR": self.selector,
            "DKIM_DOMAIN": self.domain,
        }

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        """The TXT record a receiving server would look up for this key, and nothing else."""
        if name == f"{self.selector}._domainkey.{self.domain}.".encode():
            return f"v=DKIM1; k=rsa; p={self.public_b64}".encode()
        return b""

    def verify(self, raw: bytes) -> bool:
        return dkim.verify(raw, dnsfunc=self.dns)


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def unfolded_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, value) of each top-level header, continuation lines joined."""
    fields: list[list[bytes]] = []
    for line in header_lines(raw):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    result = []
    for lines in fields:
        name, _, value = b"\r\n".join(lines).partition(b":")
        result.append((name.decode(), value.decode("utf-8").strip()))
    return result


def signed_headers(raw: bytes) -> list[str]:
    """The `h=` list of the message's DKIM signature, lower case, in order."""
    [signature] = [value for name, value in unfolded_headers(raw) if name == "DKIM-Signature"]
    tags = dict(
        tag.strip().split("=", 1) for tag in re.sub(r"\s+", "", signature).split(";") if tag
    )
    return tags["h"].lower().split(":")


def decoded(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded as the RFC says (the text of
    adjacent encoded words joined, the space between them dropped)."""
    unfolded = re.sub(r"\r\n(?=[ \t])", "", value)  # RFC 5322 unfolding: drop the CRLF only
    return str(make_header(decode_header(unfolded)))


def check_wire_headers(raw: bytes) -> None:
    """The header lines as sent: none over 998 characters, every encoded word at most 75,
    and Subject/From/To lines at most 78 unless a single word is longer."""
    lines = header_lines(raw)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")), "a line over 998"
    for word in ENCODED_WORD.findall(raw.split(b"\r\n\r\n", 1)[0]):
        assert len(word) <= 75, f"encoded word of {len(word)} characters: {word[:40]!r}…"
    current = b""
    for line in lines:
        if line[:1] not in (b" ", b"\t"):
            current = line.split(b":", 1)[0].lower()
        # Characters, not octets: a UTF-8 header (RFC 6532) is folded by characters.
        if current in (b"subject", b"from", b"to") and len(line.decode()) > 78:
            words = line.split()
            assert len(words) <= 2 and len(words[-1]) > 70, f"{line[:40]!r}… is {len(line)}"
