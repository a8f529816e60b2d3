"""The XSS corpus is inert on every page and in every email."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from engage.comments import service
from engage.comments.models import Comment
from tests.comments.conftest import login
from tests.conftest import csrf_token

CORPUS = [
    "<script>alert('x1')</script>",
    "<img src=x onerror=alert('x2')>",
    "<svg onload=alert('x3')><script>alert(1)</script></svg>",
    "[click](javascript:alert('x4'))",
    "[click](JaVaScRiPt:alert('x5'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert('x6'))",
    "![img](https://tracker.example/pixel.png)",
    "[a](https://ok.example \"title\" onmouseover=alert('x7'))",
    "<a href=\"javascript:alert('x8')\">x</a>",
    '<iframe src="https://evil.example"></iframe>',
    "[x](&#106;avascript:alert('x9'))",
    "<details open ontoggle=alert('x10')>",
    "`<script>alert('x11')</script>`",
]
NAMES = ["\"><script>alert('n1')</script>", "' onmouseover='alert(1)", "<b>bold</b>"]
BAD_TAGS = {"script", "svg", "iframe", "img", "details", "object", "embed", "math"}


class _Scan(HTMLParser):
    """Real tags and attributes only: escaped text such as `&lt;img onerror=…` is harmless."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in BAD_TAGS and not (tag == "script" and (attrs.get("src") or "").startswith("/")):
            self.found.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"{tag} {name}")
            if name in ("href", "src", "action") and re.match(
                r"\s*(javascript|data|vbscript):", value or "", re.IGNORECASE
            ):
                self.found.append(f"{tag} {name}={value}")


def assert_inert(html: str) -> None:
    scan = _Scan()
    scan.feed(html)
    assert scan.found == [], scan.found


@pytest.mark.parametrize("body", CORPUS)
def test_the_corpus_is_inert_in_the_stored_html(post, body):
    assert_inert(post(body).comment.body_html)


def test_every_page_and_email_is_inert(client, db, article, moderator, reply, tasks, smtp_server):
    for i, body in enumerate(CORPUS):
        name = NAMES[i % len(NAMES)]
        data = {
            "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
            "name": name,
            "email": f"x{i}@example.org",
            "body": body,
        }
        client.post(f"/articles/{article.slug}/replies", data=data)
    comments = db.session.scalars(select(Comment)).all()
    assert len(comments) == len(CORPUS)
    # An edit runs the same cleaning.
    service.edit_reply(db.session, comments[0], "<script>alert('edit')</script>")
    pages = [client.get(f"/articles/{article.slug}").get_data(as_text=True)]  # author's view
    pages += [client.get(f"/replies/{c.id}/edit").get_data(as_text=True) for c in comments[:3]]
    tasks.run()
    mails = [m.message for m in smtp_server.messages]
    assert mails
    for c in comments:
        service.moderate(db.session, c, "approve", user_id=moderator.id)
    db.session.commit()
    with client.application.test_client() as reader:
        pages.append(reader.get(f"/articles/{article.slug}").get_data(as_text=True))
        pages += [reader.get(f"/replies/{c.id}/report").get_data(as_text=True) for c in comments]
    login(client, moderator)
    for tab in ("pending", "approved"):
        pages.append(client.get(f"/admin/comments/?tab={tab}").get_data(as_text=True))
    pages += [
        client.get(f"/admin/comments/{c.id}/history").get_data(as_text=True) for c in comments
    ]
    for page in pages:
        assert_inert(page)
    for message in mails:
        assert_inert(message.get_body(("html",)).get_content())
