import os
import re
from pathlib import Path

import pytest

from engage import crisis
from engage.mail import emails
from engage.mail.render import (
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    UnknownEmail,
    personalise,
    placeholder,
    placeholders,
    render_email,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"


def bulk_context(**extra):
    return {
        **emails.test_message("reader@example.org"),
        "unsubscribe_url": placeholder(UNSUBSCRIBE_URL),
        "preferences_url": placeholder(PREFERENCES_URL),
        **extra,
    }


def test_layout_renders_brand_body_footer_and_crisis_text(ctx, app):
    settings = app.config["ENGAGE"]
    rendered = render_email("test_message", emails.test_message("reader@example.org"))

    assert rendered.subject == "Test email from Engage"
    html = rendered.html
    assert html.startswith("<!doctype html>")
    assert '<html lang="en"' in html
    assert f"<title>{rendered.subject}</title>" in html
    assert re.search(r'class="brand"[^>]*>.*?Engage', html, re.S)
    assert "This is a test email from Engage" in html
    assert "reader@example.org" in html
    assert "Need help now?" in html
    # The numbers of the instance's country (none set here: each country's first line), with
    # Jinja escaping once: the "&" in a name arrives as one entity, not double-escaped.
    footer = crisis.email_text(settings.crisis_resources, settings.crisis_country)
    assert "988 Suicide &amp; Crisis Lifeline (United States): call 988 or text 988" in html
    assert footer.replace("&", "&amp;") in html
    assert "Sent by Engage &lt;news@engage.test&gt;" in html
    # Unknown MJML tags pass through silently: none may be left, nor any web font.
    assert "<mj-" not in html
    assert "fonts.googleapis" not in html
    assert "@import" not in html and "<link" not in html


def test_transactional_mail_has_no_list_links(ctx):
    rendered = render_email("test_message", emails.test_message("reader@example.org"))
    assert "Unsubscribe" not in rendered.html and "Unsubscribe" not in rendered.text
    assert "preferences" not in rendered.html.lower()
    assert not placeholders(rendered)


def test_bulk_mail_is_rendered_once_and_personalised_per_recipient(ctx):
    rendered = render_email("test_message", bulk_context())
    assert placeholders(rendered) == {UNSUBSCRIBE_URL, PREFERENCES_URL}

    first = personalise(
        rendered,
        {
            UNSUBSCRIBE_URL: "https://engage.test/u/abc?x=1&y=2",
            PREFERENCES_URL: "https://engage.test/p/1",
        },
    )
    second = personalise(
        rendered,
        {UNSUBSCRIBE_URL: "https://engage.test/u/def", PREFERENCES_URL: "https://engage.test/p/2"},
    )
    assert '<a href="https://engage.test/u/abc?x=1&amp;y=2"' in first.html
    assert ">Unsubscribe</a>" in first.html
    assert ">Manage your preferences</a>" in first.html
    assert "Unsubscribe (https://engage.test/u/abc?x=1&y=2)" in first.text
    assert "Manage your preferences (https://engage.test/p/1)" in first.text
    assert '<a href="https://engage.test/u/def"' in second.html
    assert "%%" not in first.html + first.text + second.html + second.text


def test_unfilled_placeholder_is_refused(ctx):
    rendered = render_email("test_message", bulk_context())
    with pytest.raises(ValueError, match="PREFERENCES_URL"):
        personalise(rendered, {UNSUBSCRIBE_URL: "https://engage.test/u/abc"})


def test_context_values_are_escaped_in_html_but_not_in_text(ctx):
    rendered = render_email("test_message", emails.test_message("<b>o'neil</b>@example.org"))
    assert "&lt;b&gt;o&#39;neil&lt;/b&gt;@example.org" in rendered.html
    assert "<b>o'neil</b>@example.org" in rendered.text


def test_unknown_or_unsafe_names_are_refused(ctx):
    for name in ("no_such_email", "../emails", "layout.mjml", "Test_Message"):
        with pytest.raises(UnknownEmail):
            render_email(name, {})


def test_text_part_of_test_message_matches_snapshot(ctx):
    rendered = render_email("test_message", emails.test_message("reader@example.org"))
    snapshot = SNAPSHOTS / "test_message.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(rendered.text, encoding="utf-8")
    assert rendered.text == snapshot.read_text(encoding="utf-8")
