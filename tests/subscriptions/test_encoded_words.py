"""An encoded-word address (`=?utf-8?q?victim?=@example.org`) is refused at every sign-up door,
so nobody can subscribe another person's mailbox under hundreds of spellings."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engage.accounts.service import create_api_key
from engage.subscriptions.models import Subscriber
from tests.subscriptions.test_api import post_import
from tests.subscriptions.test_signup_flow import sign_up

ENCODED = "=?utf-8?q?victim?=@example.org"
MESSAGE = "cannot contain “=?”"


@pytest.fixture
def editor(ctx, db) -> dict[str, str]:
    _, secret = create_api_key(db.session, "import", "editor")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def stored(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Subscriber))


def test_the_sign_up_form_refuses_it_and_mails_nobody(client, topics, db, tasks, smtp_server):
    for variant in (
        ENCODED,
        "=?US-ASCII?Q?victim?=@example.org",
        "=?iso-8859-1?b?dmljdGlt?=@x.org",
    ):
        response = sign_up(client, variant)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "cannot contain “=?”" in page
        assert 'value="=?' in page  # what was typed is kept for correcting
    assert stored(db) == 0
    assert tasks.run() == []
    assert smtp_server.messages == []


def test_the_embedded_form_refuses_it(client, topics, db, monkeypatch, app):
    monkeypatch.setattr(app.config["ENGAGE"], "embed_origins", ("https://news.example.org",))
    response = client.post(
        "/embed/subscribe",
        json={"email": ENCODED},
        headers={"Origin": "https://news.example.org"},
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert MESSAGE in response.get_json()["error"]["fields"]["email"][0]
    assert stored(db) == 0


def test_the_import_rejects_the_row_with_the_reason(client, topics, db, editor):
    response = post_import(
        client,
        editor,
        {"email": "reader@example.org"},
        {"email": ENCODED},
        {"email": "=?UTF-8?B?dmljdGlt?=@example.org", "confirmed": True},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["created"] == 1
    reasons = {row["index"]: row["reason"] for row in body["rejected"]}
    assert sorted(reasons) == [1, 2]
    assert all(MESSAGE in reason for reason in reasons.values())
    assert stored(db) == 1
