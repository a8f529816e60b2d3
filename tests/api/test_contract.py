"""The API keeps the contract its OpenAPI document states, under Schemathesis.

Every operation in /api/v1/openapi.json is fuzzed against the real app on the suite's database
(SQLite or PostgreSQL, in the test's savepoint), with every check Schemathesis has: no server
errors, only documented status codes, content types and headers, response schemas, schema-valid
requests accepted and schema-violating ones refused, unsupported methods answered 405 with
`Allow`, authentication enforced (each request is also replayed without a key and with a bad
one). Requests carry a real key of the role each operation asks for (`x-required-role`), and
half the generated ids name a real row, so the views' own paths run, not only their 404s.

What JSON Schema cannot say (a topic must exist, an event must end after it starts, text must
keep something once control characters are dropped) the operations document in their
descriptions and answer with 422 (409 for a state). `follow_documented_rules` makes the
generated *valid* requests follow those rules too, so "schema-valid requests are accepted"
means what a client reading the document expects; invalid requests are left as generated.

The schema is loaded when the module is collected (one test per operation) from an app built
only to read its declarations; `test_the_fuzzed_document_is_the_served_one` checks it is the
document the app under test serves. (Schemathesis's lazy `from_fixture` loader does not run on
pytest 9.2: it sets `Node._nodeid`, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from engage import create_app
from engage.accounts.service import create_api_key
from engage.api.openapi import build_openapi
from engage.articles.models import Article
from engage.comments.models import Comment
from engage.community.service import (
    ListingInvalid,
    clean_organiser_email,
    clean_text,
    valid_timezone,
    web_url,
)
from engage.subscriptions.models import Topic
from engage.subscriptions.service import InvalidAddress, normalise_email
from engage.types import utcnow

EXAMPLES_PER_OPERATION = 20
STATEFUL_SCENARIOS = 15
SEED = 20240501
OPENAPI = "/api/v1/openapi.json"
ROLES = ("admin", "editor", "moderator")
TOPICS = ("newsletter", "groups-news")


def _declared_document() -> dict:
    """The OpenAPI document of an app that is never served; nothing in it connects anywhere."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "ENGAGE_ENV": "testing",
                "ENGAGE_INSTANCE_PATH": instance,
                "DATABASE_URL": "sqlite://",
                "CELERY_BROKER_URL": "memory://",
                "SECRET_KEY": "contract-test-secret-key-long-enough",
                "BASE_URL": "http://engage.test",
            }
        )
        with app.app_context():
            return build_openapi(app)


@dataclass
class UnderTest:
    """What the running test set up: the app Schemathesis calls, its keys and seeded rows."""

    app: Flask | None = None
    keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    event_times: tuple[datetime, datetime] | None = None

    def __call__(self, environ, start_response):  # the WSGI app, for every request and probe
        assert self.app is not None, "no app under test: use the contract_app fixture"
        return self.app(environ, start_response)


DOCUMENT = _declared_document()
UNDER_TEST = UnderTest()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # Keys come from `RoleKey` below; generated credentials would only ever be refused.
        "generation": {"with-security-parameters": False},
        # A body over MAX_CONTENT_LENGTH is refused before it is read, with the 413 every
        # operation with a body documents: that is a rejection too.
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                    "5xx",
                ]
            }
        },
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = UNDER_TEST


@schema.auth(refresh_interval=None)
class RoleKey:
    """`Authorization: Bearer` with a real key of the role the operation asks for."""

    def get(self, case, context):
        role = case.operation.definition.raw.get("x-required-role", "none")
        if role == "none":
            return None
        # None while the module is collected: there are no keys before a test runs.
        return UNDER_TEST.keys.get("moderator" if role == "any" else role)

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# --- the documented rules JSON Schema cannot state -----------------------------------------


def _visible(value, *, multiline: bool = False) -> bool:
    return isinstance(value, str) and bool(clean_text(value, 10_000, multiline=multiline))


def _address(value) -> bool:
    try:
        normalise_email(value)
    except InvalidAddress:
        return False
    return True


def _instant(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):  # "now", or nothing
        return None


def _known_topics(slugs):
    return [slug if slug in TOPICS else TOPICS[i % len(TOPICS)] for i, slug in enumerate(slugs)]


def _group_rules(body: dict, *, new: bool) -> None:
    for name in ("name", "contact", "language"):
        if name in body and body[name] is not None and not _visible(body[name]):
            body[name] = name.title()
    if new and not (_visible(body.get("region")) or _visible(body.get("city"))):
        body["region"] = "Online, UK"
    if body.get("timezone") and not valid_timezone(clean_text(body["timezone"], 64)):
        body["timezone"] = "Europe/London"
    if body.get("organiser_email") is not None:
        try:
            clean_organiser_email(body["organiser_email"])
        except ListingInvalid:
            body["organiser_email"] = "organiser@example.org"


def _event_rules(body: dict, *, new: bool) -> None:
    if "title" in body and body["title"] is not None and not _visible(body["title"]):
        body["title"] = "Open evening"
    if body.get("timezone") and not valid_timezone(clean_text(body["timezone"], 64)):
        body["timezone"] = "Europe/London"
    link = clean_text(body.get("online_url"), 500)
    if link and not web_url(link):
        body["online_url"] = link = "https://meet.example.org/evening"
    current_place = not new  # the seeded event has a place
    if "location" in body and not _visible(body["location"]):
        current_place = False
    if not (link or current_place or _visible(body.get("location"))):
        body["location"] = "Quayside Community Centre"
    if body.get("group_id") is not None:
        body["group_id"] = UNDER_TEST.ids["group_id"]
    if body.get("organiser_email") is not None and not _address(body["organiser_email"]):
        body["organiser_email"] = "organiser@example.org"
    starts, ends = UNDER_TEST.event_times if not new else (None, None)
    starts = _instant(body.get("starts_at")) or starts
    ends = _instant(body.get("ends_at")) or ends
    if (
        starts is not None
        and ends is not None
        and not (timedelta(0) < ends - starts <= timedelta(days=14))
    ):
        if starts.year > 9000:
            starts = datetime.fromisoformat("2031-06-01T18:00:00+00:00")
        body["starts_at"] = starts.isoformat()
        body["ends_at"] = (starts + timedelta(hours=2)).isoformat()


def follow_documented_rules(case, *, seeded_ids: bool = True) -> None:
    """Make a schema-valid case also keep the rules its operation's description states.

    With `seeded_ids`, an even generated id is replaced by the seeded row's id.
    """
    operation = f"{case.method.upper()} {case.operation.path}"
    for name, value in (case.path_parameters or {}).items():
        if seeded_ids and name in UNDER_TEST.ids and isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = UNDER_TEST.ids[name]
    query = case.query if isinstance(case.query, dict) else {}
    body = case.body if isinstance(case.body, dict) else {}
    if operation == "GET /api/v1/subscribers":
        if query.get("email") and not _address(query["email"]):
            query["email"] = "reader@example.org"
        if query.get("topic") and query["topic"] not in TOPICS:
            query["topic"] = TOPICS[0]
    elif operation == "PATCH /api/v1/subscribers/{subscriber_id}":
        if body.get("topics"):
            body["topics"] = _known_topics(body["topics"])
    elif operation == "POST /api/v1/newsletters":
        if not " ".join(body.get("subject", "").split()):
            body["subject"] = "This month"
        body["topics"] = _known_topics(body.get("topics", []))
        # Any Markdown renders; MJML must be valid MJML, which is the renderer's to say.
        body["body_mjml"] = None
        if not (body.get("body_markdown") or "").strip():
            body["body_markdown"] = "Hello, readers."
    elif operation == "POST /api/v1/newsletters/{newsletter_id}/schedule":
        send_at = _instant(body.get("send_at"))
        if send_at is not None and send_at < utcnow():
            body["send_at"] = "2099-05-01T09:30:00+00:00"
    elif operation == "POST /api/v1/newsletters/{newsletter_id}/test":
        if not _address(body.get("to")):
            body["to"] = "editor@example.org"
    elif operation in ("POST /api/v1/groups", "PATCH /api/v1/groups/{group_id}"):
        _group_rules(body, new=case.method.upper() == "POST")
    elif operation in ("POST /api/v1/events", "PATCH /api/v1/events/{event_id}"):
        _event_rules(body, new=case.method.upper() == "POST")
    elif (
        operation.endswith("/reject")
        and "/comments/" not in operation
        and not _visible(body.get("reason"), multiline=True)
    ):
        body["reason"] = "Not a support group."


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def contract_app(make_app):
    # The per-key limit would answer 429 after a few hundred calls and hide the operations
    # behind it, so this app's is raised. (Not RATELIMIT_ENABLED=False: the limiter is one
    # object shared by every app, and that would switch it off for the rest of the run.)
    UNDER_TEST.app = make_app(API_RATE_LIMIT="1000000 per minute")
    yield UNDER_TEST.app
    UNDER_TEST.app = None


@pytest.fixture
def world(contract_app, ctx, db, tasks):
    """Keys of each role and one row of each kind, committed in the test's savepoint."""
    session = db.session
    UNDER_TEST.keys = {role: create_api_key(session, f"contract {role}", role)[1] for role in ROLES}
    session.add_all(Topic(slug=slug, name=slug, is_default=slug == TOPICS[0]) for slug in TOPICS)
    article = Article(slug="contract", title="Contract", summary="", body_markdown="Hi.")
    session.add(article)
    session.flush()
    comment = Comment(
        article_id=article.id,
        author_name="Reader",
        author_email="reader@example.org",
        author_email_hash="0" * 64,
        body_markdown="Thank you.",
        body_html="<p>Thank you.</p>",
    )
    session.add(comment)
    session.commit()

    client = contract_app.test_client()
    editor = {"Authorization": f"Bearer {UNDER_TEST.keys['editor']}"}

    def created(url: str, body: dict) -> dict:
        response = client.post(url, json=body, headers=editor)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    created(
        "/api/v1/subscribers",
        {"subscribers": [{"email": "seeded@example.org", "topics": list(TOPICS)}]},
    )
    subscriber = client.get("/api/v1/subscribers", headers=editor).get_json()["items"][0]
    group = created(
        "/api/v1/groups",
        {
            "name": "Circle",
            "purposes": ["anxiety"],
            "format": "online",
            "region": "North West England",
            "contact": "circle@example.org",
        },
    )
    event = created(
        "/api/v1/events",
        {
            "title": "Open evening",
            "starts_at": "2031-06-01T18:00:00+00:00",
            "ends_at": "2031-06-01T20:00:00+00:00",
            "location": "Quayside Community Centre",
            "group_id": group["id"],
        },
    )
    newsletter = created(
        "/api/v1/newsletters",
        {"subject": "Hello", "body_markdown": "Hello.", "topics": [TOPICS[0]]},
    )
    UNDER_TEST.ids = {
        "subscriber_id": subscriber["id"],
        "group_id": group["id"],
        "event_id": event["id"],
        "newsletter_id": newsletter["id"],
        "comment_id": comment.id,
    }
    UNDER_TEST.event_times = (
        datetime.fromisoformat(event["starts_at"]),
        datetime.fromisoformat(event["ends_at"]),
    )
    yield UNDER_TEST
    UNDER_TEST.keys, UNDER_TEST.ids, UNDER_TEST.event_times = {}, {}, None


# --- the tests ----------------------------------------------------------------------------------


def test_the_fuzzed_document_is_the_served_one(contract_app):
    served = contract_app.test_client().get(OPENAPI).get_json()
    assert served == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # One savepoint per operation, shared by its examples on purpose: state builds up as in use.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_the_api_keeps_its_contract(case, world):
    if _is_positive(case):
        follow_documented_rules(case)
    case.call_and_validate()


def _is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@pytest.fixture
def workflow(world):
    """Schemathesis's state machine: chains of calls joined by the links it infers (a created
    group's id into GET/PATCH/approve, a deleted subscriber's id into GET…), which is what the
    use_after_free and ensure_resource_availability checks need."""

    class Workflow(schema.as_state_machine()):
        calls = 0

        def before_call(self, case):
            type(self).calls += 1
            if _is_positive(case):
                follow_documented_rules(case, seeded_ids=False)

    return Workflow


def test_the_api_keeps_its_contract_across_calls(workflow):
    workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert workflow.calls >= STATEFUL_SCENARIOS  # it ran, and went beyond one call per scenario
