"""The embeddable sign-up form: /embed/subscribe across sites, and the admin page's snippet."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from engage.accounts.service import create_user
from engage.subscriptions.models import Consent, Subscriber
from tests.subscriptions.test_signup_flow import confirmation_link

ALLOWED = "https://news.example.org"
STRANGER = "https://elsewhere.example.com"
CHECK = "Check your email to confirm your subscription."


@pytest.fixture
def origins(app, monkeypatch):
    """EMBED_ORIGINS for this test: one site allowed to embed the form."""
    monkeypatch.setattr(app.config["ENGAGE"], "embed_origins", (ALLOWED,))
    return ALLOWED


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def post_json(client, body, origin=ALLOWED, **headers):
    if origin:
        headers["Origin"] = origin
    return client.post("/embed/subscribe", json=body, headers=headers)


def post_form(client, data, origin=ALLOWED, **headers):
    if origin:
        headers["Origin"] = origin
    return client.post("/embed/subscribe", data=data, headers=headers)


# --- CORS and the origin rule ---------------------------------------------------------------


def test_an_allowed_origin_may_read_the_answer(client, topics, origins, db):
    response = post_json(client, {"email": "reader@example.org"})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "message": CHECK}
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert db.session.scalar(select(Subscriber.status)) == "pending"


def test_the_preflight_allows_post_with_a_content_type(client, origins):
    response = client.options(
        "/embed/subscribe",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_the_preflight_from_an_unlisted_origin_gets_no_cors_headers(client, origins):
    response = client.options(
        "/embed/subscribe",
        headers={"Origin": STRANGER, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        STRANGER,
        "null",
        "https://news.example.org.evil.test",
        "http://news.example.org",
        "https://news.example.org/stories",
        "https://someone@news.example.org",
        "HTTPS://NEWS.EXAMPLE.ORG",
    ],
)
def test_an_unlisted_origin_is_refused_and_nothing_is_written(
    client, topics, origins, db, tasks, origin
):
    response = post_json(client, {"email": "reader@example.org"}, origin=origin)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]

    form = post_form(client, {"email": "reader@example.org"}, origin=origin)
    assert form.status_code == 403
    assert "Access-Control-Allow-Origin" not in form.headers
    page = form.get_data(as_text=True)
    assert "is not set up to sign people up" in page  # and our own form, to subscribe here
    assert 'action="/subscribe"' in page and "reader@example.org" not in page

    assert count(db, Subscriber) == 0
    assert tasks.run() == []


def test_no_origin_is_configured_by_default(client, topics, db):
    response = post_json(client, {"email": "reader@example.org"}, origin=ALLOWED)
    assert response.status_code == 403
    assert count(db, Subscriber) == 0


def test_the_origin_is_compared_as_browsers_send_it(client, topics, db, app, monkeypatch):
    monkeypatch.setattr(
        app.config["ENGAGE"],
        "embed_origins",
        ("HTTPS://News.Example.org:443", "http://a.test:8080"),
    )
    assert post_json(client, {"email": "one@example.org"}).status_code == 200
    ok = post_json(client, {"email": "two@example.org"}, origin="http://a.test:8080")
    assert ok.headers["Access-Control-Allow-Origin"] == "http://a.test:8080"
    assert post_json(client, {"email": "x@example.org"}, origin="http://a.test").status_code == 403


def test_our_own_site_may_post_without_cors_headers(client, topics, db):
    response = post_json(client, {"email": "reader@example.org"}, origin="http://engage.test")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_request_without_origin_is_processed(client, topics, db):
    # Not a browser on another site's page (a server-side integration): the rate limit applies.
    response = post_json(client, {"email": "reader@example.org"}, origin=None)
    assert response.status_code == 200
    assert count(db, Subscriber) == 1


# --- the sign-up itself ---------------------------------------------------------------------


def test_json_sign_up_records_consent_from_the_embedding_page(client, topics, origins, db):
    response = post_json(
        client,
        {
            "email": "Reader@Example.org",
            "topics": ["groups-news"],
            "digest": "weekly",
            "source": "https://news.example.org/stories/a-first-meeting?utm=x",
        },
    )
    assert response.status_code == 200
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.email == "reader@example.org"
    assert subscriber.digest == "weekly"
    assert [t.slug for t in subscriber.topics] == ["groups-news"]
    consent = db.session.scalar(select(Consent))
    assert consent.source == "embed:news.example.org/stories/a-first-meeting"
    assert consent.text == "We respect your privacy. Unsubscribe at any time."


def test_a_plain_form_post_redirects_to_check_your_email(client, topics, origins, db):
    response = post_form(
        client,
        {"email": "reader@example.org"},
        Referer="https://news.example.org/articles/finding-company",
        Accept="text/html,application/xhtml+xml,*/*;q=0.8",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscribe/check-your-email"
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    subscriber = db.session.scalar(select(Subscriber))
    assert [t.slug for t in subscriber.topics] == ["newsletter"]  # the default topics
    assert subscriber.digest == "off"
    assert subscriber.consents[0].source == "embed:news.example.org/articles/finding-company"


def test_a_multipart_post_with_repeated_topics(client, topics, origins, db):
    response = client.post(
        "/embed/subscribe",
        data={"email": "reader@example.org", "topics": ["newsletter", "groups-news"]},
        content_type="multipart/form-data",
        headers={"Origin": ALLOWED, "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.get_json()["ok"] is True
    subscriber = db.session.scalar(select(Subscriber))
    assert sorted(t.slug for t in subscriber.topics) == ["groups-news", "newsletter"]
    # The referrer trimmed to the origin, no source field: the origin's host is what we know.
    assert subscriber.consents[0].source == "embed:news.example.org/"


def test_a_fetch_with_form_data_gets_json(client, topics, origins):
    response = post_form(
        client, {"email": "reader@example.org"}, Accept="*/*", **{"Sec-Fetch-Mode": "cors"}
    )
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "message": CHECK}


def test_an_invalid_address_is_a_422_with_the_reason_and_no_row(client, topics, origins, db):
    response = post_json(client, {"email": "not an address"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "does not look like an email address" in error["message"]
    assert "does not look like an email address" in error["fields"]["email"][0]
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED  # the page can show it
    assert count(db, Subscriber) == 0


def test_an_invalid_address_in_a_plain_form_shows_our_sign_up_page(client, topics, origins, db):
    response = post_form(client, {"email": "not an address"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "does not look like an email address" in page
    assert 'value="not an address"' in page
    assert 'action="/subscribe"' in page and 'name="csrf_token"' in page
    assert count(db, Subscriber) == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (["reader@example.org"], 400, None),
        ({"email": ["reader@example.org"]}, 422, "email"),
        ({"email": "reader@example.org", "topics": [1]}, 422, "topics"),
        ({"email": "reader@example.org", "topics": ["no-such-topic"]}, 422, "topics"),
        ({"email": "reader@example.org", "digest": "hourly"}, 422, "digest"),
    ],
)
def test_malformed_json_is_refused_in_the_error_shape(
    client, topics, origins, db, body, status, field
):
    response = post_json(client, body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["message"]
    if field:
        assert list(error["fields"]) == [field]
    assert count(db, Subscriber) == 0


def test_unparseable_json_is_a_400(client, topics, origins, db):
    response = client.post(
        "/embed/subscribe",
        data="{not json",
        content_type="application/json",
        headers={"Origin": ALLOWED},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert count(db, Subscriber) == 0


def test_the_honeypot_looks_like_success_and_records_nothing(client, topics, origins, db, tasks):
    response = post_json(client, {"email": "bot@example.org", "website": "http://spam.test"})
    assert response.get_json() == {"ok": True, "message": CHECK}
    form = post_form(client, {"email": "bot@example.org", "website": "http://spam.test"})
    assert form.status_code == 303
    assert count(db, Subscriber) == 0
    assert tasks.run() == []


def test_every_address_gets_the_same_answer(client, topics, origins, db):
    from engage.subscriptions import service

    confirmed = service.sign_up(
        db.session, "confirmed@example.org", topics=None, digest="off", source="t"
    )
    service.confirm(db.session, confirmed.subscriber.id, confirmed.consent.id)
    service.sign_up(db.session, "pending@example.org", topics=None, digest="off", source="t")
    db.session.commit()
    answers = {
        (r.status_code, r.get_data())
        for r in (
            post_json(client, {"email": address})
            for address in ("new@example.org", "pending@example.org", "confirmed@example.org")
        )
    }
    assert len(answers) == 1


def test_the_confirmation_email_arrives(client, topics, origins, tasks, smtp_server):
    post_json(client, {"email": "reader@example.org"})
    assert tasks.run() == ["engage.send_email"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["reader@example.org"]
    assert received.message["Subject"] == "Please confirm your subscription to Engage"
    assert confirmation_link(received).startswith("/confirm/")


def test_the_rate_limit_answers_in_the_error_shape(client, topics, origins, app, monkeypatch, db):
    monkeypatch.setattr(app.config["ENGAGE"], "signup_rate_limit", "2 per hour")
    for n in range(2):
        assert post_json(client, {"email": f"r{n}@example.org"}).status_code == 200
    response = post_json(client, {"email": "r3@example.org"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert count(db, Subscriber) == 2
    # The preflight is not counted against the limit.
    preflight = client.options(
        "/embed/subscribe", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204


# --- the admin page and its snippet ---------------------------------------------------------


def sign_in(client, db, role: str) -> None:
    user = create_user(db.session, f"{role}@example.org", "a long enough password", role)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


class FormFields(HTMLParser):
    """The form's action, and each input's name, type and whether a `hidden` element holds it."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.method = None
        self.inputs: list[dict] = []
        self.labels: set[str] = set()
        self.links: list[str] = []
        self._hidden_depth = 0
        self._stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        hidden = "hidden" in attrs
        if tag not in ("input", "br", "img", "meta"):
            self._stack.append(hidden)
            self._hidden_depth += hidden
        if tag == "form":
            self.action, self.method = attrs.get("action"), attrs.get("method")
        elif tag == "input":
            self.inputs.append({**attrs, "concealed": self._hidden_depth > 0})
        elif tag == "label":
            self.labels.add(attrs.get("for"))
        elif tag == "a":
            self.links.append(attrs.get("href"))
        elif tag == "script" or "style" in attrs:
            raise AssertionError("the snippet must need no script and no inline styles")

    def handle_endtag(self, tag):
        if self._stack:
            self._hidden_depth -= self._stack.pop()


def admin_snippet(client) -> str:
    page = client.get("/admin/subscriptions/embed").get_data(as_text=True)
    match = re.search(r"<pre[^>]*><code>(.*?)</code></pre>", page, re.S)
    assert match, page
    assert "<form" not in match.group(1)  # shown escaped, as text to copy
    return html.unescape(match.group(1))


def test_the_admin_page_needs_a_signed_in_user(client):
    response = client.get("/admin/subscriptions/embed")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_admin_page_needs_the_editor_role(client, db, ctx):
    sign_in(client, db, "moderator")
    assert client.get("/admin/subscriptions/embed").status_code == 403
    assert "Embeddable sign-up form" not in client.get("/admin/").get_data(as_text=True)


def test_the_admin_page_shows_the_snippet(client, db, ctx):
    sign_in(client, db, "editor")
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/subscriptions/embed"' in dashboard
    response = client.get("/admin/subscriptions/embed")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No sites are configured yet" in page and "EMBED_ORIGINS" in page

    snippet = admin_snippet(client)
    fields = FormFields()
    fields.feed(snippet)
    assert fields.action == "http://engage.test/embed/subscribe"
    assert fields.method == "post"
    assert "We respect your privacy. Unsubscribe at any time." in snippet
    assert "http://engage.test/privacy" in fields.links
    email = next(i for i in fields.inputs if i["name"] == "email")
    assert email["type"] == "email" and email["id"] in fields.labels and not email["concealed"]
    honeypot = next(i for i in fields.inputs if i["name"] == "website")
    assert honeypot["concealed"] and honeypot["tabindex"] == "-1"
    assert '<button type="submit">' in snippet


def test_the_admin_page_lists_the_configured_origins(client, db, ctx, origins):
    sign_in(client, db, "admin")
    page = client.get("/admin/subscriptions/embed").get_data(as_text=True)
    assert f"<code>{ALLOWED}</code>" in page
    assert "No sites are configured yet" not in page


def test_the_snippet_posts_what_the_endpoint_accepts(
    client, db, ctx, topics, origins, tasks, smtp_server
):
    sign_in(client, db, "editor")
    fields = FormFields()
    fields.feed(admin_snippet(client))
    data = {i["name"]: i.get("value", "") for i in fields.inputs}
    data["email"] = "from-the-snippet@example.org"
    assert set(data) == {"email", "website"}

    path = fields.action.removeprefix("http://engage.test")
    response = client.post(path, data=data, headers={"Origin": ALLOWED})
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscribe/check-your-email"
    assert db.session.scalar(select(Subscriber.email)) == "from-the-snippet@example.org"
    assert tasks.run() == ["engage.send_email"]
    assert smtp_server.messages[0].rcpt_tos == ["from-the-snippet@example.org"]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"email": "reader@example.org", "source": "http://[::1"}, {}),
        ({"email": "reader@example.org"}, {"Referer": "http://[oops/page"}),
    ],
)
def test_unreadable_page_addresses_are_ignored(client, topics, origins, db, body, headers):
    response = post_json(client, body, **headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert db.session.scalar(select(Consent.source)) == "embed:news.example.org/"
