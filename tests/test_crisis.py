"""Crisis resources: the shipped file, an operator's file checked at start, the country a page
shows, and the footer of pages and emails."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from engage import crisis
from engage.config import ConfigError, Settings
from engage.mail import emails
from engage.mail.render import render_email

# What a phone dials: digits, with a leading + for the international form.
DIALABLE = re.compile(r"^\+?[0-9]{3,15}$")


def test_the_shipped_file_parses_and_every_number_is_dialable():
    resources = crisis.load()
    assert set(resources.countries) == {"US", "GB", "IE", "CA", "AU"}
    numbers = []
    for country in [*resources.countries.values(), resources.international]:
        assert country.resources, country.code
        if country.emergency:
            numbers.append(country.emergency_href)
        for resource in country.resources:
            assert resource.call or resource.text or resource.url or resource.description
            if resource.call:
                numbers.append(resource.call_href)
            if resource.text:
                numbers.append(resource.text_href)
    for href in numbers:
        scheme, _, rest = href.partition(":")
        assert scheme in ("tel", "sms"), href
        assert DIALABLE.match(rest.split("?")[0]), href
    assert len(numbers) >= 14


def test_the_reviewed_entries_are_the_ones_the_brief_names():
    resources = crisis.load()

    def hrefs(code):
        country = resources.get(code)
        found = {country.emergency_href}
        for resource in country.resources:
            found |= {resource.call_href, resource.text_href}
        return found - {""}

    assert {"tel:988", "sms:988", "sms:741741?body=HOME", "tel:911"} <= hrefs("US")
    assert {"tel:116123", "sms:85258?body=SHOUT", "tel:999"} <= hrefs("GB")
    assert {"tel:116123", "sms:50808?body=HELLO"} <= hrefs("IE")
    assert {"tel:988", "sms:988"} <= hrefs("CA")
    assert {"tel:131114", "sms:0477131114", "tel:000"} <= hrefs("AU")
    [directory] = [r for r in resources.international.resources if r.url]
    assert directory.url == "https://findahelpline.com"


def _write(tmp_path, data: dict, suffix=".json"):
    path = tmp_path / f"crisis{suffix}"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


GOOD = {
    "countries": {
        "NZ": {
            "name": "New Zealand",
            "emergency": "111",
            "resources": [{"name": "Need to talk?", "call": "1737", "text": "1737"}],
        }
    },
    "international": {
        "name": "Elsewhere",
        "resources": [{"name": "Directory", "url": "https://findahelpline.com"}],
    },
}


def test_an_operator_file_in_json_replaces_the_shipped_one(tmp_path):
    settings = Settings.from_env(
        {"CRISIS_RESOURCES": _write(tmp_path, GOOD), "CRISIS_COUNTRY": "nz"}
    )
    assert list(settings.crisis_resources.countries) == ["NZ"]
    assert settings.crisis_country == "NZ"
    assert settings.crisis_resources.get("NZ").resources[0].call_href == "tel:1737"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["countries"]["NZ"]["resources"][0].update(call="call us"),
            "not a number a phone can dial",
        ),
        (
            lambda d: d["countries"]["NZ"]["resources"][0].update(call="12"),
            "not a number a phone can dial",
        ),
        (lambda d: d["countries"].update(nz=d["countries"]["NZ"]), "not a country code"),
        (lambda d: d["countries"]["NZ"].update(resources=[]), "countries.NZ: needs at least one"),
        (
            lambda d: d["countries"]["NZ"]["resources"][0].update(phone="1737"),
            "unknown field(s) phone",
        ),
        (
            lambda d: d["countries"]["NZ"]["resources"][0].update(url="javascript:alert(1)"),
            "resource 1: `url`",
        ),
        (lambda d: d.pop("international"), "[international] entry is missing"),
        (lambda d: d["countries"]["NZ"]["resources"][0].pop("name"), "`name` is missing"),
    ],
)
def test_a_mistake_in_the_file_stops_the_start_with_a_clear_message(tmp_path, change, message):
    data = json.loads(json.dumps(GOOD))
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CRISIS_RESOURCES": path})
    assert message in str(caught.value)
    assert str(caught.value).startswith("CRISIS_RESOURCES: ")
    assert path in str(caught.value)


def test_an_unreadable_or_broken_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the crisis resources file"):
        Settings.from_env({"CRISIS_RESOURCES": str(tmp_path / "missing.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[countries\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        Settings.from_env({"CRISIS_RESOURCES": str(broken)})


def test_a_default_country_without_an_entry_is_refused():
    with pytest.raises(ConfigError, match="CRISIS_COUNTRY='FR' has no entry"):
        Settings.from_env({"CRISIS_COUNTRY": "fr"})


def test_the_shipped_file_is_the_toml_the_docs_describe():
    data = tomllib.loads(crisis.DEFAULT_FILE.read_text(encoding="utf-8"))
    assert crisis.parse(data).countries.keys() == crisis.load().countries.keys()


@pytest.mark.parametrize(
    ("asked", "languages", "default", "expected"),
    [
        ("GB", ["en-US"], "US", "GB"),  # the reader's choice wins
        ("gb", [], "", "GB"),
        ("INT", ["en-GB"], "GB", "INT"),
        ("", ["en-AU", "en"], "US", "AU"),  # the browser's region
        ("XX", ["fr-CA"], "", "CA"),  # an unknown choice is ignored
        ("", ["de-DE", "en-GB"], "", "GB"),  # the first region we know
        ("", ["de-DE"], "GB", "INT"),  # a region we do not know: the international entry
        ("", ["en", "fr"], "IE", "IE"),  # no region: the instance's default
        ("", [], "", "INT"),
        ("", ["zh-Hant-TW"], "US", "INT"),
    ],
)
def test_which_country_a_page_shows(asked, languages, default, expected):
    assert crisis.choose(crisis.load(), asked, languages, default).code == expected


def footer(page: str) -> str:
    return page.split('<footer class="site-footer">', 1)[1]


def test_the_footer_shows_numbers_to_tap_for_the_chosen_country(client):
    page = footer(client.get("/?crisis=GB").get_data(as_text=True))
    assert '<a class="crisis-link" href="tel:116123">Call 116 123</a>' in page
    assert '<a class="crisis-link" href="sms:85258?body=SHOUT">Text SHOUT to 85258</a>' in page
    assert '<a class="crisis-link" href="tel:999">Call 999</a>' in page
    assert re.search(r'<option value="GB" selected>United Kingdom</option>', page)
    # The choice is a GET form on the same page: no account, no cookie.
    assert '<form method="get" action="/#crisis" class="crisis-country">' in page


def test_the_browser_language_picks_the_country_and_caches_are_told(client):
    response = client.get("/", headers={"Accept-Language": "en-AU,en;q=0.8"})
    assert 'href="tel:131114"' in footer(response.get_data(as_text=True))
    assert "Accept-Language" in response.headers["Vary"]
    assert "Set-Cookie" not in response.headers or "crisis" not in response.headers["Set-Cookie"]


def test_the_country_form_keeps_the_page_query(client):
    page = client.get("/events?format=online&crisis=IE").get_data(as_text=True)
    assert '<input type="hidden" name="format" value="online">' in footer(page)
    assert 'href="sms:50808?body=HELLO"' in footer(page)


def test_crisis_text_is_kept_as_an_extra_line(make_app):
    app = make_app(
        CRISIS_TEXT="You can also call our partner line on 0800 000 000.", CRISIS_COUNTRY="US"
    )
    with app.test_client() as client:
        page = footer(client.get("/").get_data(as_text=True))
    assert "You can also call our partner line on 0800 000 000." in page
    assert 'href="tel:988"' in page  # the numbers stay
    with app.app_context():
        rendered = render_email("test_message", emails.test_message("reader@example.org"))
    assert "Need help now? 988 Suicide & Crisis Lifeline: call 988 or text 988" in rendered.text
    assert "Crisis Text Line: text HOME to 741741" in rendered.text
    assert "In an emergency, call 911." in rendered.text
    assert rendered.text.rstrip().split("\n--\n")[1].count("0800 000 000") == 1


def test_emails_use_the_instance_country(make_app):
    app = make_app(CRISIS_COUNTRY="GB")
    with app.app_context():
        rendered = render_email("test_message", emails.test_message("reader@example.org"))
    assert "Samaritans: call 116 123" in rendered.text
    assert "Shout: text SHOUT to 85258" in rendered.text
    assert "988" not in rendered.text
