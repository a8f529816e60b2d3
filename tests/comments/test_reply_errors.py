"""The reply form's errors, server side: every problem in one answer, listed in a summary whose
links lead to the fields, each field marked and described by its own message, and what was
typed sent back. The author's pending reply in place, and a count of what the public sees."""

from __future__ import annotations

from sqlalchemy import func, select

from engage.comments import service
from engage.comments.models import Comment
from tests.conftest import csrf_token
from tests.support.forms import assert_field_error, duplicates, read


def post(client, article, **values):
    data = {"csrf_token": csrf_token(client, f"/articles/{article.slug}"), **values}
    return client.post(f"/articles/{article.slug}/replies", data=data)


def test_every_problem_at_once_in_the_forms_order():
    assert service.reply_problems(" ", "nobody@", "", True) == {
        "body": "Please write your reply.",
        "name": "Please enter a name to show with your reply.",
        "email": "That does not look like an email address. Please check it and try again.",
    }
    assert service.reply_problems("Robin", "robin@example.org", "Hello", True) == {}
    assert service.reply_problems("", "", "", False) == {
        "body": "Replies to this article are closed."
    }


def test_three_errors_come_back_together_beside_their_fields(client, db, article):
    response = post(client, article, name="", email="robin@", body="", notify="y")
    assert response.status_code == 400
    page = read(response.get_data(as_text=True))
    assert page.summary_links == [
        ("#reply-body", "Please write your reply."),
        ("#reply-name", "Please enter a name to show with your reply."),
        (
            "#reply-email",
            "That does not look like an email address. Please check it and try again.",
        ),
    ]
    summary = page.by_id["reply-errors"]
    assert (summary["role"], summary["tabindex"]) == ("alert", "-1")
    assert page.text_by_id["reply-errors-title"] == "3 things to fix"
    for field_id, message in page.summary_links:
        assert_field_error(page, field_id[1:], message)
    assert page.by_id["reply-email"]["value"] == "robin@"  # kept
    assert "reply-notify" in page.checked
    # The form's action carries the summary's anchor: the answer opens there, script or not.
    assert page.by_id["reply-form"]["action"] == f"/articles/{article.slug}/replies#reply-errors"
    assert duplicates(page) == {}
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 0


def test_what_was_typed_is_kept_and_only_the_remaining_problem_shown(client, article):
    response = post(client, article, name="Robin", email="robin@", body="Thank you.")
    page = read(response.get_data(as_text=True))
    assert [href for href, _ in page.summary_links] == ["#reply-email"]
    assert page.by_id["reply-name"]["value"] == "Robin"
    assert "aria-invalid" not in page.by_id["reply-name"]
    assert "Thank you." in response.get_data(as_text=True)


def test_an_expired_form_says_so_and_still_lists_the_fields(client, article):
    response = client.post(
        f"/articles/{article.slug}/replies",
        data={"csrf_token": "stale", "name": "", "email": "robin@example.org", "body": "Hi"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert read(html).summary_links == [
        ("#reply-name", "Please enter a name to show with your reply.")
    ]
    assert "<li>This form expired. Please press Post reply again.</li>" in html
    assert "robin@example.org" in html  # nothing typed is lost


def test_the_author_sees_the_reply_in_place_and_the_count_is_the_publics(client, article):
    page = client.get(f"/articles/{article.slug}").get_data(as_text=True)
    assert read(page).text_by_id["replies-count"] == "No replies yet"
    assert page.count("Leave a reply") == 1 and "Leave a Reply" not in page

    response = post(client, article, name="Robin", email="robin@example.org", body="Hello all.")
    assert response.status_code == 303
    own = client.get(f"/articles/{article.slug}").get_data(as_text=True)
    assert "Waiting for a moderator" in own and "Hello all." in own
    assert read(own).text_by_id["replies-count"] == "No replies yet"
    assert "0 replies" not in own
