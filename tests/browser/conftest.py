"""Browser fixtures: a live server on committed data, headless Chromium, and a recorded page."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import launch, require_chromium
from tests.support.live import LiveServer


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
