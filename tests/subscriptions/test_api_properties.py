"""Whatever a client sends to /api/v1/subscribers, the answer is never a 500.

Bodies are arbitrary JSON or import-shaped rows built from awkward values (line breaks, control
characters, lone surrogates, overlong and internationalised addresses, wrong types); query
strings mix the real filters with noise. Every error answers in the one error shape.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engage.accounts.service import create_api_key
from engage.api import ErrorResponse
from engage.extensions import limiter
from engage.subscriptions import service

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

AWKWARD = st.sampled_from(
    [
        "",
        " ",
        "reader@example.org",
        "Reader@EXAMPLE.org",
        "not-an-address",
        "a@b",
        "x@example.org\r\nBcc: victim@example.org",
        "x@example.org\n",
        "x\x00@example.org",
        "\ud800@example.org",
        "José@example.org",
        "reader@exämple.org",
        "用户@例子.广告",
        "a" * 300 + "@example.org",
        "newsletter",
        "groups-news",
        "weekly",
        "daily\r\n",
        "off",
        "pending",
        "confirmed",
        "unsubscribed",
        "2024-05-01T09:30:00+02:00",
        "2024-05-01T09:30:00",
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00-23:59",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "\u2028",
        "\x1b[31m",
        "s" * 400,
    ]
)
TEXT = st.one_of(AWKWARD, st.text(max_size=40))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def _maybe(strategy):
    return st.one_of(strategy, JSON)


CONSENT = st.fixed_dictionaries(
    {},
    optional={
        "source": _maybe(TEXT),
        "text": _maybe(TEXT),
        "consented_at": _maybe(AWKWARD),
    },
)
ROW = st.fixed_dictionaries(
    {"email": _maybe(TEXT)},
    optional={
        "topics": st.one_of(st.lists(TEXT, max_size=3), JSON),
        "digest": _maybe(TEXT),
        "confirmed": _maybe(st.booleans()),
        "consent": st.one_of(CONSENT, JSON),
    },
)
# Rows of the right JSON types reach the import rules rather than stopping at a 422.
TYPED_ROW = st.fixed_dictionaries(
    {"email": TEXT},
    optional={
        "topics": st.one_of(st.none(), st.lists(TEXT, max_size=3)),
        "digest": st.one_of(st.none(), TEXT),
        "confirmed": st.booleans(),
        "consent": st.fixed_dictionaries(
            {},
            optional={
                "source": st.one_of(st.none(), TEXT),
                "text": st.one_of(st.none(), TEXT),
                "consented_at": st.one_of(
                    st.none(),
                    AWKWARD,
                    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                ),
            },
        ),
    },
)
IMPORT_BODY = st.one_of(
    st.fixed_dictionaries({"subscribers": st.lists(TYPED_ROW, min_size=1, max_size=6)}),
    st.fixed_dictionaries({"subscribers": st.lists(ROW, max_size=5)}),
    st.fixed_dictionaries({"subscribers": JSON}),
    st.dictionaries(TEXT, JSON, max_size=3),
    JSON,
)
PATCH_BODY = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "topics": st.one_of(st.lists(TEXT, max_size=3), JSON),
            "digest": _maybe(TEXT),
        },
    ),
    JSON,
)
# A URL carries bytes: lone surrogates cannot even be put into one.
URL_TEXT = TEXT.filter(lambda value: not any("\ud800" <= char <= "\udfff" for char in value))
QUERY = st.lists(
    st.tuples(
        st.sampled_from(["email", "status", "topic", "page", "per_page", "other"]),
        st.one_of(URL_TEXT, st.integers(min_value=-(2**40), max_value=2**70).map(str)),
    ),
    max_size=4,
)


@pytest.fixture
def editor(ctx, db, topics):
    _, secret = create_api_key(db.session, "property editor", "editor")
    outcome = service.sign_up(
        db.session, "reader@example.org", topics=None, digest="off", source="test"
    )
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}, outcome.subscriber.id


def _check(response) -> None:
    event(f"{response.request.method} {response.status_code}")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code == 204:
        assert response.get_data() == b""
        return
    assert response.mimetype == "application/json"
    if response.status_code >= 400:
        ErrorResponse.model_validate(response.get_json())


def _post_json(client, method: str, url: str, body, headers):
    # json.dumps keeps lone surrogates as \\ud800 escapes, as a real client might send them.
    return client.open(
        url,
        method=method,
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


@SETTINGS
@given(body=IMPORT_BODY)
def test_an_import_never_fails_with_a_500(app, client, editor, body):
    headers, _ = editor
    with app.app_context():
        limiter.reset()
    response = _post_json(client, "POST", "/api/v1/subscribers", body, headers)
    _check(response)
    if response.status_code == 200:
        report = response.get_json()
        assert set(report) == {"created", "updated", "rejected"}
        for row in report["rejected"]:
            assert "\r" not in (row["email"] or "") and "\n" not in (row["email"] or "")


@SETTINGS
@given(
    query=QUERY,
    method=st.sampled_from(["GET", "PATCH", "DELETE", "EXPORT"]),
    which=st.one_of(st.just(None), st.integers(min_value=-5, max_value=2**70)),
    body=PATCH_BODY,
)
def test_reading_and_changing_never_fail_with_a_500(
    app, client, editor, query, method, which, body
):
    headers, subscriber_id = editor
    with app.app_context():
        limiter.reset()
    _check(client.get("/api/v1/subscribers", query_string=query, headers=headers))
    url = f"/api/v1/subscribers/{subscriber_id if which is None else which}"
    if method == "GET":
        response = client.get(url, headers=headers)
    elif method == "EXPORT":
        response = client.get(f"{url}/export", headers=headers)
    elif method == "DELETE":
        response = client.delete(url, headers=headers)
    else:
        response = _post_json(client, "PATCH", url, body, headers)
    _check(response)
