"""Compose and edit: saving, validation errors with their lines, blocks without JS, audience."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from engage.articles.models import Article
from engage.newsletters.models import Newsletter
from tests.articles.conftest import build_article
from tests.newsletters_ui.conftest import form_post

NEW = "/admin/newsletters/new"


def compose(client, url=NEW, **fields):
    data = {
        "subject": "Autumn news",
        "preheader": "Groups, events and a new article",
        "body_format": "markdown",
        "body": "Hello **readers**.",
        "topics": ["newsletter"],
        "action": "save",
    }
    data.update(fields)
    return form_post(client, url, data)


def test_the_form_has_labels_and_preselects_the_default_topic(editor_client, readers):
    page = editor_client.get(NEW).get_data(as_text=True)
    for field in ("subject", "preheader", "body", "block"):
        assert f'for="{field}"' in page, field
    assert 'value="newsletter" checked' in page
    assert 'value="groups-news" >' in page or 'value="groups-news">' in page
    # Three confirmed readers of the newsletter; the pending one does not count.
    assert '<output id="audience-count" for="compose" aria-live="polite">3</output>' in page
    assert "newsletters.js" in page


def test_saving_creates_a_draft_and_shows_its_page(editor_client, readers, db, editor):
    response = compose(editor_client)
    assert response.status_code == 303
    newsletter = db.session.scalar(select(Newsletter))
    assert response.headers["Location"].endswith(f"/admin/newsletters/{newsletter.id}")
    assert (newsletter.subject, newsletter.status) == ("Autumn news", "draft")
    assert newsletter.body_markdown == "Hello **readers**."
    assert newsletter.body_mjml is None
    assert [t.slug for t in newsletter.topics] == ["newsletter"]
    assert newsletter.created_by_id == editor.id
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The newsletter is saved." in page
    assert '<strong id="audience">3</strong> confirmed subscribers' in page


def test_saving_mjml(editor_client, readers, db):
    body = '<mj-text>Hi</mj-text>\n<mj-button href="https://example.org">Go</mj-button>'
    response = compose(editor_client, body_format="mjml", body=body)
    assert response.status_code == 303
    newsletter = db.session.scalar(select(Newsletter))
    assert (newsletter.body_mjml, newsletter.body_markdown) == (body, None)


def test_an_unclosed_tag_is_shown_with_its_line_and_nothing_is_saved(editor_client, readers, db):
    body = "<mj-text>\n  <p>Hello\n</mj-text>"
    response = compose(editor_client, body_format="mjml", body=body)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-line="2">Line 2</a>' in page
    assert html.escape("<p> opened on line 2 is not closed before </mj-text>.") in page
    assert html.escape("  <p>Hello") in page  # the offending line, quoted
    assert html.escape(body) in page  # what the editor wrote is kept
    assert db.session.scalar(select(Newsletter)) is None


def test_an_unknown_mj_tag_is_shown_with_its_line(editor_client, readers, db):
    body = "<mj-text>One</mj-text>\n<mj-txt>Two</mj-txt>"
    response = compose(editor_client, body_format="mjml", body=body)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-line="2">Line 2</a>' in page
    assert html.escape("<mj-txt> is not an MJML tag") in page
    assert db.session.scalar(select(Newsletter)) is None


def test_the_check_button_reports_without_saving(editor_client, readers, db):
    response = compose(editor_client, action="check", body_format="mjml", body="<mj-txt>x</mj-txt>")
    assert response.status_code == 200
    assert "Line 1" in response.get_data(as_text=True)
    clean = compose(editor_client, action="check", body="Just text.")
    assert "No problems found in the body." in clean.get_data(as_text=True)
    assert db.session.scalar(select(Newsletter)) is None


def test_markdown_warnings_do_not_block_saving(editor_client, readers, db):
    response = compose(editor_client, body="Hi\n\n![photo](https://example.org/a.png)")
    assert response.status_code == 303
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Line 3: Images are left out of emails" in page


def test_missing_subject_and_topics_are_field_errors(editor_client, readers, db):
    response = compose(editor_client, subject="", topics=[])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This field is required." in page
    assert "Choose at least one topic" in page
    assert db.session.scalar(select(Newsletter)) is None


def test_an_unknown_topic_is_refused_by_the_service(editor_client, readers, db):
    response = compose(editor_client, topics=["newsletter", "nope"])
    assert response.status_code == 422
    assert "There is no topic nope." in response.get_data(as_text=True)


def test_a_block_is_appended_without_js(editor_client, readers, db):
    build_article(db.session, slug="finding-company", title="Finding company", summary="Be kind.")
    response = compose(editor_client, action="insert", block="articles", body="Intro.")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "“Latest articles” was added at the end of the body." in page
    assert (
        "Intro.\n\n## Latest articles\n\n"
        "- [Finding company](http://engage.test/articles/finding-company) \\\n  Be kind.\n"
    ) in page
    assert db.session.scalar(select(Newsletter)) is None  # inserting saves nothing


def test_a_block_in_mjml_is_mjml(editor_client, readers, db):
    build_article(db.session, title="Tea & talk")
    response = compose(
        editor_client, action="insert", block="articles", body_format="mjml", body=""
    )
    page = response.get_data(as_text=True)
    assert html.escape("<mj-text>\n  <h2>Latest articles</h2>") in page
    assert html.escape("Tea &amp; talk") in page


def test_an_empty_block_says_so(editor_client, readers, db):
    assert db.session.scalar(select(Article)) is None
    response = compose(editor_client, action="insert", block="events")
    assert response.status_code == 200
    assert "There is nothing to list under “Upcoming events” yet." in html.unescape(
        response.get_data(as_text=True)
    )


def test_the_block_endpoint_for_the_script(editor_client, readers, db):
    build_article(db.session, title="Hello")
    data = editor_client.get("/admin/newsletters/blocks/articles.json?format=markdown").get_json()
    assert data["snippet"].startswith("## Latest articles")
    assert editor_client.get("/admin/newsletters/blocks/groups.json").status_code == 404
    assert editor_client.get("/admin/newsletters/blocks/nope.json").status_code == 404


def test_the_audience_endpoint(editor_client, readers):
    url = "/admin/newsletters/audience.json"
    assert editor_client.get(f"{url}?topics=newsletter").get_json() == {"count": 3}
    assert editor_client.get(f"{url}?topics=groups-news").get_json() == {"count": 1}
    both = editor_client.get(f"{url}?topics=newsletter&topics=groups-news").get_json()
    assert both == {"count": 3}  # each reader once
    assert editor_client.get(url).get_json() == {"count": 0}


def test_editing_a_draft(editor_client, make_newsletter, readers, db):
    newsletter = make_newsletter(subject="Old subject")
    url = f"/admin/newsletters/{newsletter.id}/edit"
    page = editor_client.get(url).get_data(as_text=True)
    assert 'value="Old subject"' in page
    response = compose(editor_client, url, subject="New subject", topics=["groups-news"])
    assert response.status_code == 303
    db.session.refresh(newsletter)
    assert newsletter.subject == "New subject"
    assert [t.slug for t in newsletter.topics] == ["groups-news"]


def test_a_sent_newsletter_cannot_be_edited(editor_client, make_newsletter, readers):
    newsletter = make_newsletter(status="sent")
    response = editor_client.get(f"/admin/newsletters/{newsletter.id}/edit")
    assert response.status_code == 303
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "it can no longer be edited" in page


def test_the_list(editor_client, make_newsletter, readers):
    make_newsletter(subject="First one")
    page = editor_client.get("/admin/newsletters").get_data(as_text=True)
    assert "First one" in page
    assert "Draft" in page


REMOTE = "Remote images are not allowed"


def test_a_remote_image_is_refused_with_its_line(editor_client, readers, db):
    body = '<mj-text>Hello</mj-text>\n<mj-image src="https://tracker.example/pixel.gif" />'
    response = compose(editor_client, body_format="mjml", body=body)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert REMOTE in page and "tracker.example/pixel.gif" in page
    assert 'data-line="2">Line 2</a>' in page
    assert db.session.scalar(select(Newsletter)) is None


@pytest.mark.parametrize(
    "body",
    [
        '<mj-text><img src="http://tracker.example/p.gif" alt=""></mj-text>',
        '<mj-text><p style="background:url(//tracker.example/b.png)">x</p></mj-text>',
        '<mj-text><table background="https://tracker.example/b.png"><tr><td>x</td></tr>'
        "</table></mj-text>",
        '<mj-raw><!--[if mso]><img src="https://tracker.example/o.gif"><![endif]--></mj-raw>',
        '<mj-social><mj-social-element name="facebook" href="https://example.org">Share'
        "</mj-social-element></mj-social>",
    ],
)
def test_every_kind_of_remote_image_is_refused(editor_client, readers, db, body):
    response = compose(editor_client, body_format="mjml", body=body)
    assert response.status_code == 422
    assert REMOTE in response.get_data(as_text=True)
    assert db.session.scalar(select(Newsletter)) is None


def test_images_from_engage_or_data_uris_are_fine(editor_client, readers, db):
    body = (
        '<mj-image src="http://engage.test/static/logo.png" alt="Logo" />\n'
        '<mj-image src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" />\n'
        '<mj-text><a href="https://example.org/elsewhere">A link elsewhere is fine</a></mj-text>'
    )
    assert compose(editor_client, body_format="mjml", body=body).status_code == 303
    assert db.session.scalar(select(Newsletter.body_mjml)) == body


def test_a_subject_over_the_cap_is_refused_with_a_clear_message(editor_client, readers, db):
    response = compose(editor_client, subject="é" * 201)
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "The subject can be at most 200 characters" in page
    assert db.session.scalar(select(Newsletter)) is None
    assert compose(editor_client, subject="é" * 200).status_code in (200, 302, 303)
