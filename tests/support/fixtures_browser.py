"""Browser fixtures for every folder: a live server on committed data, one headless Chromium for
the session (Playwright allows one per thread), and a recorded page. Loaded by tests/conftest.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import sync_playwright

from engage.extensions import limiter
from tests.support.browser import launch, require_chromium
from tests.support.live import LiveServer
from tests.support.worker import forget_queue


@pytest.fixture
def live_server(app, committed):
    """The app served on 127.0.0.1:<free port>; yields the started LiveServer (`.url`)."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium Browser for the session (skipped, or failed in CI, if missing)."""
    path = require_chromium()
    with sync_playwright() as playwright:
        browser = launch(playwright, path)
        yield browser
        browser.close()


@dataclass
class RecordedPage:
    """A Playwright page plus every URL it requested, in order."""

    page: object
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def browser_page(chromium):
    """A fresh browser context and page; yields RecordedPage (`.page`, `.requests`)."""
    context = chromium.new_context(java_script_enabled=True, locale="en-GB")
    page = context.new_page()
    recorded = RecordedPage(page=page)
    page.on("request", lambda request: recorded.requests.append(request.url))
    yield recorded
    context.close()


@pytest.fixture
def queue_app(app, make_app, committed):
    """An app like the session's whose tasks go to a queue of its own.

    Run its tasks with `tests.support.tasks.run_queued(queue_app)`. The session app's default
    queue is shared by every test run on the same broker (a Redis used by several people), and
    another run's consumer or purge could take a message this test waits for.
    """
    from tests.support.tasks import purge

    own = make_app(WTF_CSRF_ENABLED=True)
    celery = own.extensions["celery"]
    celery.conf.task_default_queue = f"engage-browser-{uuid.uuid4().hex[:12]}"
    with own.app_context():
        limiter.reset()
    yield own
    purge(own)
    forget_queue(celery.conf.broker_url, celery.conf.task_default_queue)


@pytest.fixture
def queue_live_server(queue_app):
    """`queue_app` served like `live_server` (on committed data); yields the LiveServer."""
    server = LiveServer(queue_app).start()
    yield server
    server.stop()
