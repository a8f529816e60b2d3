"""Crisis resources by country: read from an operator's file, shown as numbers a phone can dial.

The file (TOML or JSON; `CRISIS_RESOURCES`, default `engage/crisis_resources.toml`, which says
how to write one) is read and checked once, when the settings are built: a mistake stops the
start with a message naming the entry, never a page without help on it.

Which country a page shows is the reader's choice, kept nowhere: `?crisis=GB` (the footer's
small form), else the region of their browser's language (`en-GB`), else the instance's
`CRISIS_COUNTRY`, else the international entry.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from engage.urls import InvalidUrl, check_web_url

DEFAULT_FILE = Path(__file__).resolve().parent / "crisis_resources.toml"
INTERNATIONAL = "INT"  # the choice for "another country"

# What people write ("116 123", "9-8-8", "+61 477 131 114"); dialled as its digits.
_NUMBER = re.compile(r"^\+?[0-9][0-9 \-]*[0-9]$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_TEXT_BODY = re.compile(r"^[A-Za-z0-9 ]{1,40}$")


class CrisisFileError(ValueError):
    """The crisis resources file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Resource:
    name: str
    call: str = ""
    text: str = ""
    text_body: str = ""
    url: str = ""
    hours: str = ""
    description: str = ""

    @property
    def call_href(self) -> str:
        return f"tel:{dialable(self.call)}" if self.call else ""

    @property
    def text_href(self) -> str:
        if not self.text:
            return ""
        # RFC 5724: the message body as a query; phones open their messages app with it.
        body = f"?body={self.text_body.replace(' ', '%20')}" if self.text_body else ""
        return f"sms:{dialable(self.text)}{body}"

    def as_text(self) -> str:
        """One line for a plain-text footer: "Samaritans: call 116 123 (24 hours…)"."""
        ways = []
        if self.call:
            ways.append(f"call {self.call}")
        if self.text:
            ways.append(
                f"text {self.text_body} to {self.text}" if self.text_body else f"text {self.text}"
            )
        if not ways and self.url:  # a web page alone reads as a link does in our text parts
            line = f"{self.name} ({self.url})"
            return f"{line} ({self.hours})" if self.hours else line
        if self.url:
            ways.append(f"online ({self.url})")
        if not ways:
            return self.description
        line = f"{self.name}: {' or '.join(ways)}"
        return f"{line} ({self.hours})" if self.hours else line


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    resources: tuple[Resource, ...]
    emergency: str = ""

    @property
    def emergency_href(self) -> str:
        return f"tel:{dialable(self.emergency)}" if self.emergency else ""

    def as_text(self) -> str:
        lines = [resource.as_text() for resource in self.resources]
        if self.emergency:
            lines.append(f"In an emergency, call {self.emergency}")
        return ". ".join(lines) + "."


@dataclass(frozen=True)
class CrisisResources:
    countries: dict[str, Country]
    international: Country

    def get(self, code: str | None) -> Country:
        """The country `code` names, or the international entry."""
        return self.countries.get((code or "").upper(), self.international)

    def choices(self) -> list[tuple[str, str]]:
        """(code, name) for the country menu, the international entry last."""
        ordered = sorted(self.countries.values(), key=lambda country: country.name)
        return [(c.code, c.name) for c in ordered] + [(INTERNATIONAL, self.international.name)]


def dialable(number: str) -> str:
    """The digits a phone dials (a leading + kept): "116 123" -> "116123"."""
    return re.sub(r"[^0-9+]", "", number)


def _string(where: str, entry: dict, key: str, *, required=False, limit=200) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise CrisisFileError(f"{where}: `{key}` must be text")
    value = value.strip()
    if required and not value:
        raise CrisisFileError(f"{where}: `{key}` is missing")
    if len(value) > limit or any(not ch.isprintable() for ch in value):
        raise CrisisFileError(f"{where}: `{key}` is too long or holds control characters")
    return value


def _number(where: str, entry: dict, key: str) -> str:
    value = _string(where, entry, key, limit=30)
    if value and not (_NUMBER.match(value) and 3 <= len(dialable(value).lstrip("+")) <= 15):
        raise CrisisFileError(
            f"{where}: `{key}` = {value!r} is not a number a phone can dial "
            "(digits, spaces and hyphens, a leading + allowed)"
        )
    return value


def _resource(where: str, entry: object) -> Resource:
    if not isinstance(entry, dict):
        raise CrisisFileError(f"{where}: each resource must be a table")
    known = {"name", "call", "text", "text_body", "url", "hours", "description"}
    if unknown := sorted(set(entry) - known):
        raise CrisisFileError(f"{where}: unknown field(s) {', '.join(unknown)}")
    resource = Resource(
        name=_string(where, entry, "name", required=True),
        call=_number(where, entry, "call"),
        text=_number(where, entry, "text"),
        text_body=_string(where, entry, "text_body", limit=40),
        url=_string(where, entry, "url", limit=300),
        hours=_string(where, entry, "hours"),
        description=_string(where, entry, "description", limit=300),
    )
    if resource.text_body and not (resource.text and _TEXT_BODY.match(resource.text_body)):
        raise CrisisFileError(f"{where}: `text_body` needs a `text` number and plain words")
    if resource.url:
        try:
            check_web_url(resource.url, limit=300)
        except InvalidUrl as exc:
            raise CrisisFileError(f"{where}: `url`: {exc}") from None
    if not (resource.call or resource.text or resource.url or resource.description):
        raise CrisisFileError(f"{where}: give a `call` or `text` number, a `url` or a description")
    return resource


def _country(where: str, code: str, entry: object) -> Country:
    if not isinstance(entry, dict):
        raise CrisisFileError(f"{where}: must be a table")
    raw = entry.get("resources")
    if not isinstance(raw, list) or not raw:
        raise CrisisFileError(f"{where}: needs at least one entry in `resources`")
    return Country(
        code=code,
        name=_string(where, entry, "name", required=True, limit=80),
        emergency=_number(where, entry, "emergency"),
        resources=tuple(_resource(f"{where}, resource {n}", item) for n, item in enumerate(raw, 1)),
    )


def parse(data: dict, source: str = "crisis resources") -> CrisisResources:
    """Checked resources from the file's data. Raises CrisisFileError naming the mistake."""
    if not isinstance(data, dict):
        raise CrisisFileError(f"{source}: the file must hold a table")
    countries_raw = data.get("countries", {})
    if not isinstance(countries_raw, dict):
        raise CrisisFileError(f"{source}: `countries` must be a table keyed by country code")
    countries = {}
    for code, entry in countries_raw.items():
        if not _COUNTRY.match(code):
            raise CrisisFileError(
                f"{source}: {code!r} is not a country code (two capital letters, e.g. GB)"
            )
        countries[code] = _country(f"{source}: countries.{code}", code, entry)
    if "international" not in data:
        raise CrisisFileError(f"{source}: the [international] entry is missing")
    international = _country(f"{source}: international", INTERNATIONAL, data["international"])
    return CrisisResources(countries=countries, international=international)


def load(path: str | Path | None = None) -> CrisisResources:
    """Read and check a TOML or JSON file (the shipped one when `path` is empty).

    Raises CrisisFileError with the file's name and what is wrong.
    """
    file = Path(path) if path else DEFAULT_FILE
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise CrisisFileError(f"cannot read the crisis resources file {file}: {exc}") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CrisisFileError(
            f"{file} is not valid {file.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
        ) from None
    return parse(data, str(file))


def _region(tag: str) -> str:
    """The region of a language tag ("en-GB" -> "GB", "zh-Hant-TW" -> "TW"), or ""."""
    for part in tag.replace("_", "-").split("-")[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return ""


def choose(
    resources: CrisisResources,
    asked: str | None,
    regions: Iterable[str],
    default: str = "",
) -> Country:
    """The country to show: the one asked for, else the browser's, else the default.

    `regions` are the reader's language tags in order of preference ("en-GB", "fr"). A region
    we have no entry for means the international entry rather than the instance default: a
    reader in Germany is better served by a directory than by another country's numbers.
    """
    asked = (asked or "").strip().upper()[:3]
    if asked == INTERNATIONAL:
        return resources.international
    if asked in resources.countries:
        return resources.countries[asked]
    regional = [region for tag in regions if (region := _region(tag))]
    for region in regional:
        if region in resources.countries:
            return resources.countries[region]
    if regional:
        return resources.international
    return resources.get(default)


def email_text(resources: CrisisResources, country: str = "", note: str = "") -> str:
    """The crisis footer of emails, as text with numbers: the instance's country (every
    resource), or without one, each country's first resource and the international entry.
    The operator's `note` (CRISIS_TEXT) comes last."""
    if country and country in resources.countries:
        text = resources.countries[country].as_text()
    else:
        lines = [
            replace(c.resources[0], name=f"{c.resources[0].name} ({c.name})", hours="").as_text()
            for c in sorted(resources.countries.values(), key=lambda c: c.name)
        ]
        lines += [replace(r, hours="").as_text() for r in resources.international.resources]
        text = ". ".join(lines) + "."
    return f"{text} {note}".strip()
