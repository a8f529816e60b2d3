"""What readers see and do: the thread, the form without JavaScript, the author's own reply,
edits and deletes by cookie, reports, CSRF, rate limits and proxies."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from engage.comments import service
from engage.comments.models import Comment, CommentReport
from engage.types import utcnow
from tests.conftest import csrf_token


def page_of(client, article, query="") -> str:
    return client.get(f"/articles/{article.slug}{query}").get_data(as_text=True)


def form_data(client, article, **values):
    data = {
        "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
        "name": "Robin",
        "email": "robin@example.org",
        "body": "This helped me, thank you.",
    }
    data.update(values)
    return data


def send(client, article, **values):
    return client.post(
        f"/articles/{article.slug}/replies", data=form_data(client, article, **values)
    )


def test_threads_nest_oldest_first_with_count_and_permalinks(client, article, reply):
    now = utcnow()
    first = reply(name="Ada", body="First", created_at=now - timedelta(hours=5))
    second = reply(name="Ben", body="Second", created_at=now - timedelta(hours=4))
    answer = reply(name="Cy", body="Answer", parent=first, created_at=now - timedelta(hours=3))
    reply(status="pending", body="Hidden pending")
    reply(status="rejected", body="Hidden rejected")
    page = page_of(client, article)
    assert page.index("First") < page.index("Answer") < page.index("Second")
    assert "3 replies" in page
    assert f'id="c-{answer.id}"' in page and f'href="#c-{second.id}"' in page
    assert "Hidden pending" not in page and "Hidden rejected" not in page
    assert 'class="reply depth-2"' in page


def test_depth_is_capped_at_four_with_in_reply_to(client, db, article, reply):
    parent = None
    names = ["One", "Two", "Three", "Four", "Five", "Six"]
    for i, name in enumerate(names):
        parent = reply(name=name, parent=parent, created_at=utcnow() - timedelta(minutes=60 - i))
    thread = service.thread(db.session, article.id)
    four = thread.roots[0].children[0].children[0].children[0]
    assert four.comment.author_name == "Four" and four.depth == 4
    assert [(n.comment.author_name, n.in_reply_to, n.depth) for n in four.children] == [
        ("Five", "Four", 4),
        ("Six", "Five", 4),
    ]
    page = page_of(client, article)
    assert "in reply to Four" in page and "in reply to Five" in page
    assert "depth-5" not in page


def test_a_deleted_reply_with_answers_stays_as_a_blank(client, db, article, reply):
    gone = reply(body="Gone text", deleted_at=utcnow())
    reply(body="Still here", parent=gone)
    reply(body="Gone alone", deleted_at=utcnow())
    page = page_of(client, article)
    assert "This reply was deleted." in page and "Still here" in page
    assert "Gone text" not in page and "Gone alone" not in page
    assert "1 reply" in page


def test_the_form_posts_without_javascript_and_only_the_author_sees_it(app, client, db, article):
    response = send(client, article, notify="y")
    assert response.status_code == 303
    comment = db.session.scalar(select(Comment).where(Comment.article_id == article.id))
    assert response.headers["Location"].endswith(f"/articles/{article.slug}#c-{comment.id}")
    assert comment.status == "pending" and comment.notify_replies
    own = page_of(client, article)
    assert "Waiting for a moderator" in own and "This helped me" in own
    assert "Edit or delete" in own
    with app.test_client() as stranger:
        other = page_of(stranger, article)
    assert "This helped me" not in other and "Waiting for a moderator" not in other


def test_a_refused_reply_keeps_what_was_typed(client, db, article):
    response = send(client, article, body="", name="Robin &quot;x")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Please write your reply." in page
    assert 'value="Robin &amp;quot;x"' in page
    assert db.session.scalar(select(Comment)) is None


def test_the_honeypot_stores_nothing(client, db, article):
    response = send(client, article, website="http://spam.example")
    assert response.status_code == 303
    assert db.session.scalar(select(Comment)) is None


def test_the_form_needs_its_csrf_token(client, db, article):
    data = form_data(client, article)
    data.pop("csrf_token")
    assert client.post(f"/articles/{article.slug}/replies", data=data).status_code == 400
    assert db.session.scalar(select(Comment)) is None


def test_replying_to_a_reply(client, db, article, reply):
    parent = reply(name="Ada")
    page = page_of(client, article, f"?reply_to={parent.id}")
    assert "Reply to Ada" in page and f'name="parent_id" value="{parent.id}"' in page
    send(client, article, parent_id=str(parent.id))
    child = db.session.scalar(select(Comment).where(Comment.parent_id == parent.id))
    assert child is not None


def test_crisis_language_shows_the_resources_at_once(app, client, article):
    response = send(client, article, body="I do not see a reason to go on, I want to die.")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="care"' in page
    # Numbers to tap, at once, in the care box (a UK reader's browser: Samaritans).
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en-GB"}).get_data(
        as_text=True
    )
    care = page.split('id="care"', 1)[1].split("</div>", 1)[0]
    assert '<a class="crisis-link" href="tel:116123">Call 116 123</a>' in care
    assert "Waiting for a moderator" in page


def test_the_author_edits_within_fifteen_minutes(client, db, article):
    send(client, article)
    comment = db.session.scalar(select(Comment))
    edit_url = f"/replies/{comment.id}/edit"
    assert "This helped me" in client.get(edit_url).get_data(as_text=True)
    token = csrf_token(client, edit_url)
    response = client.post(edit_url, data={"csrf_token": token, "body": "Changed words."})
    assert response.status_code == 303
    assert comment.body_markdown == "Changed words." and comment.edited_at is not None
    # The new cookie is tied to the new text: a second edit works too.
    token = csrf_token(client, edit_url)
    assert client.post(edit_url, data={"csrf_token": token, "body": "Again."}).status_code == 303


def test_edits_are_rate_limited(client, db, article):
    send(client, article)
    comment = db.session.scalar(select(Comment))
    edit_url = f"/replies/{comment.id}/edit"
    statuses = []
    for i in range(6):
        token = csrf_token(client, edit_url)
        statuses.append(
            client.post(edit_url, data={"csrf_token": token, "body": f"Take {i}."}).status_code
        )
    assert statuses == [303] * 5 + [429]


def test_editing_needs_the_cookie(app, client, db, article):
    send(client, article)
    comment = db.session.scalar(select(Comment))
    with app.test_client() as stranger:
        assert stranger.get(f"/replies/{comment.id}/edit").status_code == 403


def test_the_cookie_is_tied_to_the_text(client, db, article):
    send(client, article)
    comment = db.session.scalar(select(Comment))
    comment.body_markdown = "Changed elsewhere"
    db.session.flush()
    assert client.get(f"/replies/{comment.id}/edit").status_code == 403


def test_editing_ends_after_fifteen_minutes(client, db, article):
    send(client, article)
    comment = db.session.scalar(select(Comment))
    comment.created_at = utcnow() - timedelta(minutes=16)
    db.session.flush()
    assert client.get(f"/replies/{comment.id}/edit").status_code == 403


def test_a_forged_cookie_is_refused(client, db, article, reply):
    other = reply()
    client.set_cookie(f"reply_{other.id}", "forged.value.here")
    assert client.get(f"/replies/{other.id}/edit").status_code == 403


def test_the_author_deletes_and_answers_keep_their_place(client, db, article, reply):
    send(client, article)
    comment = db.session.scalar(select(Comment))
    comment.status = "approved"
    reply(parent=comment, body="An answer")
    db.session.flush()
    token = csrf_token(client, f"/replies/{comment.id}/edit")
    response = client.post(f"/replies/{comment.id}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert comment.deleted_at and comment.body_markdown == "" and comment.author_email is None
    page = page_of(client, article)
    assert "This reply was deleted." in page and "An answer" in page
    assert "This helped me" not in page


def test_readers_report_a_published_reply(client, db, article, reply):
    target = reply()
    url = f"/replies/{target.id}/report"
    token = csrf_token(client, url)
    response = client.post(url, data={"csrf_token": token, "reason": "abuse"})
    assert response.status_code == 200
    [report] = db.session.scalars(select(CommentReport)).all()
    assert report.comment_id == target.id and report.reason == "abuse"
    assert client.post(url, data={"csrf_token": token, "reason": "nonsense"}).status_code == 400


def test_pending_replies_cannot_be_reported(client, reply):
    assert client.get(f"/replies/{reply(status='pending').id}/report").status_code == 404


def test_one_reply_per_fifteen_seconds_per_person(client, article):
    assert send(client, article, body="One").status_code == 303
    assert send(client, article, body="Two").status_code == 429
    assert send(client, article, body="Three", email="other@example.org").status_code == 303


def test_an_hourly_cap_per_client(client, article, settings, monkeypatch):
    monkeypatch.setattr(settings, "comment_hourly_limit", 2)
    for i in range(2):
        assert send(client, article, body=f"R{i}", email=f"p{i}@example.org").status_code == 303
    assert send(client, article, body="R9", email="p9@example.org").status_code == 429


def test_forwarded_for_is_ignored_without_trusted_proxies(client, article, settings, monkeypatch):
    monkeypatch.setattr(settings, "comment_hourly_limit", 1)
    url = f"/articles/{article.slug}/replies"
    for i, forwarded in enumerate(["203.0.113.1", "203.0.113.2"]):
        response = client.post(
            url,
            data=form_data(client, article, email=f"x{i}@example.org", body=f"B{i}"),
            headers={"X-Forwarded-For": forwarded},
        )
        assert response.status_code == (303 if i == 0 else 429)


def test_forwarded_for_is_trusted_from_a_configured_proxy(make_app, db):
    from engage.extensions import limiter
    from tests.articles.conftest import build_article

    proxied = make_app(PROXY_COUNT="1", COMMENT_HOURLY_LIMIT="1", WTF_CSRF_ENABLED=False)
    with proxied.app_context():
        limiter.reset()
        slug = build_article(db.session, slug="proxied").slug
        db.session.commit()
    client = proxied.test_client()
    codes = []
    for i, forwarded in enumerate(["203.0.113.1", "203.0.113.2", "203.0.113.2"]):
        data = {"name": "P", "email": f"y{i}@example.org", "body": f"Body {i}"}
        codes.append(
            client.post(
                f"/articles/{slug}/replies",
                data=data,
                headers={"X-Forwarded-For": forwarded},
            ).status_code
        )
    assert codes == [303, 303, 429]


def test_the_email_address_is_on_no_public_page(client, db, article, reply):
    parent = reply(email="secret.person@example.org", name="Ada")
    page = page_of(client, article) + page_of(client, article, f"?reply_to={parent.id}")
    page += client.get(f"/replies/{parent.id}/report").get_data(as_text=True)
    assert "secret.person" not in page
    assert not re.search(r"[\w.]+@example\.org", page)


def test_an_encoded_word_author_address_is_refused(client, db, article):
    # `=?utf-8?q?victim?=@example.org` decodes to another person's address in mail headers.
    response = send(client, article, email="=?utf-8?Q?victim?=@example.org")
    assert response.status_code == 400
    assert "cannot contain “=?”" in response.get_data(as_text=True)
    assert db.session.scalar(select(Comment)) is None
