"""The API keeps the contract its OpenAPI document states, under Schemathesis.

Every operation in /api/v1/openapi.json is fuzzed against the real app on the suite's database
(SQLite or PostgreSQL, in the test's savepoint), with every check Schemathesis has: no server
errors, only documented status codes, content types, headers and response schemas, schema-valid
requests accepted and schema-violating ones refused, authentication enforced. Requests carry a
real key of the role each operation asks for (`x-required-role`).

The schema is loaded when the module is collected (one test per operation), from an app built
only to read its declarations; `test_the_fuzzed_document_is_the_served_one` checks it is the
document the app under test serves. (Schemathesis's lazy `from_fixture` loader does not run on
pytest 9.2.)
"""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from engage import create_app
from engage.accounts.service import create_api_key
from engage.api.openapi import build_openapi

EXAMPLES_PER_OPERATION = 20
SEED = 20240501
OPENAPI = "/api/v1/openapi.json"


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


class AppUnderTest:
    """The WSGI app Schemathesis calls (its auth probes too): whichever app the running test set."""

    app: Flask | None = None

    def __call__(self, environ, start_response):
        assert self.app is not None, "no app under test: use the contract_app fixture"
        return self.app(environ, start_response)


DOCUMENT = _declared_document()
APP_UNDER_TEST = AppUnderTest()
schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=schemathesis.Config.from_dict({"seed": SEED})
)
schema.app = APP_UNDER_TEST


@pytest.fixture
def contract_app(make_app):
    # Rate limits would answer 429 after a few hundred calls and hide the operations behind them.
    APP_UNDER_TEST.app = make_app(RATELIMIT_ENABLED=False)
    yield APP_UNDER_TEST.app
    APP_UNDER_TEST.app = None


@pytest.fixture
def keys(ctx, db) -> dict[str, str]:
    """One real key per role, committed in the test's savepoint so every request sees it."""
    secrets = {}
    for role in ("admin", "editor", "moderator"):
        _, secrets[role] = create_api_key(db.session, f"contract {role}", role)
    db.session.commit()
    return secrets


def _headers(case, keys: dict[str, str]) -> dict[str, str]:
    role = case.operation.definition.raw.get("x-required-role", "none")
    if role == "none":
        return {}
    return {"Authorization": f"Bearer {keys['moderator' if role == 'any' else role]}"}


def test_the_fuzzed_document_is_the_served_one(contract_app):
    served = contract_app.test_client().get(OPENAPI).get_json()
    assert served == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    # One savepoint per operation, shared by its examples on purpose: state builds up as in use.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_the_api_keeps_its_contract(case, contract_app, keys, tasks):
    case.call_and_validate(headers=_headers(case, keys))
