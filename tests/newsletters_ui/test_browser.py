"""An editor composes, previews and sends a newsletter in headless Chromium, and watches it go.

The live server enqueues the pipeline's tasks on the real broker (a queue of this test's own,
see `queue_app` in tests/browser/conftest.py). A thread in this process plays the worker and
beat: it runs what is queued (tests/support/tasks.py) and enqueues the periodic tick, so the
messages go through the real pipeline to the real SMTP server.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest
from playwright.sync_api import expect

from engage.accounts.service import create_user
from engage.extensions import limiter
from tests.newsletters_ui.conftest import PASSWORD, build_subscriber, build_topics
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("ENGAGE_SCREENSHOT_DIR", "")
READERS = 10


class PipelineRunner:
    """Runs the queued tasks and a tick every half second, like a worker plus beat."""

    def __init__(self, app):
        self.app = app
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipeline", daemon=True)

    def _loop(self) -> None:
        celery = self.app.extensions["celery"]
        while not self._stop.is_set():
            try:
                celery.send_task("engage.newsletters.tick")
                run_queued(self.app)
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.errors.append(exc)
                return
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def newsroom(app, committed):
    """An editor, two topics and confirmed readers, committed for the live server."""
    with app.app_context():
        limiter.reset()
        session = committed.session
        topics = build_topics(session)
        for n in range(READERS):
            build_subscriber(session, [topics["newsletter"]], email=f"reader{n}@example.org")
        create_user(session, "editor@example.org", PASSWORD, "editor", "Eda")
        session.commit()
        session.remove()


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


def watch_progress(page, bar, timeout: float = 60.0) -> list[str]:
    """The progress headings the page shows until "Results", in order (screenshots one
    while sending)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        heading = page.locator("#progress-heading").text_content(timeout=10_000).strip()
        if not seen or seen[-1] != heading:
            seen.append(heading)
            if heading == "Sending":
                shot(page, "newsletter-progress")
        if heading == "Results":
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"the page never showed the results; it showed {seen}")


def test_an_editor_composes_previews_and_sends(
    queue_live_server, queue_app, browser_page, newsroom, smtp_server, monkeypatch
):
    # A few messages a second, so the progress bar has something to show.
    settings = queue_app.config["ENGAGE"]
    monkeypatch.setitem(
        queue_app.config, "ENGAGE", dataclasses.replace(settings, send_rate_per_second=2.0)
    )
    page = browser_page.page
    base = queue_live_server.url

    page.goto(f"{base}/login?next=/admin/newsletters")
    page.locator("#email").fill("editor@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Newsletters")

    # Compose, with a mistake first: the error names its line.
    page.get_by_role("link", name="Write a newsletter").click()
    page.get_by_label("Subject").fill("Autumn at the groups")
    page.get_by_label("Preheader").fill("New groups, and a walk in the park")
    expect(page.get_by_role("checkbox", name="The newsletter")).to_be_checked()
    expect(page.locator("#audience-count")).to_have_text(str(READERS))
    page.get_by_role("radio", name="MJML").check()
    page.get_by_label("Body", exact=True).fill("<mj-text>\n  <p>Hello everyone\n</mj-text>")
    page.get_by_role("button", name="Save draft").click()
    issues = page.locator("#body-issues")
    expect(issues).to_contain_text("Line 2")
    expect(issues).to_contain_text("<p> opened on line 2 is not closed")
    shot(page, "newsletter-compose-error")
    page.get_by_label("Body", exact=True).fill(
        "<mj-text>\n  <p>Hello everyone, this is the autumn letter.</p>\n</mj-text>\n"
        '<mj-button href="https://example.org/walk">Join the walk</mj-button>'
    )
    shot(page, "newsletter-compose")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Autumn at the groups")
    expect(page.locator("#audience")).to_have_text(str(READERS))

    # Preview at both widths, in sandboxed frames.
    page.get_by_role("link", name="Preview and send a test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview")
    frames = page.locator("iframe[sandbox='']")
    expect(frames).to_have_count(2)
    desktop, mobile = (frames.nth(0).bounding_box(), frames.nth(1).bounding_box())
    assert desktop["width"] > mobile["width"] >= 370
    email = page.frame_locator("iframe.nl-frame-mobile")
    expect(email.get_by_text("Hello everyone, this is the autumn letter.")).to_be_visible()
    expect(email.get_by_role("link", name="Join the walk")).to_be_visible()
    expect(page.locator("pre.nl-text")).to_contain_text("Hello everyone")
    shot(page, "newsletter-preview")
    page.get_by_role("link", name="Back to the newsletter").click()

    # Send now, and watch the bar fill: the page's script polls and reloads itself.
    with PipelineRunner(queue_app) as runner:
        # "Send now" asks first, with the exact number of readers it will reach.
        page.get_by_role("link", name=f"Send now to {READERS} subscribers…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Send this newsletter now?")
        expect(page.locator("[data-figure=readers]")).to_have_text(str(READERS))
        page.get_by_role("button", name=f"Send now to {READERS} readers").click()
        bar = page.locator("#nl-progress-bar")
        expect(bar).to_be_visible(timeout=10_000)
        seen = watch_progress(page, bar)
        expect(page.get_by_role("heading", name="Results")).to_be_visible()
        expect(bar).to_have_attribute("value", str(READERS))
        expect(bar).to_have_attribute("max", str(READERS))
        expect(page.locator("[data-figure=percent]")).to_have_text("100.0")
        expect(page.locator("[data-figure=sent]")).to_have_text(str(READERS))
        shot(page, "newsletter-sent")
    assert runner.errors == []
    # The test never reloaded: the script did, from "Starting…" (no bar) to the bar.
    assert seen[0] in ("Sending", "Results")

    received = smtp_server.wait_for(READERS)
    assert sorted(r.rcpt_tos[0] for r in received) == [
        f"reader{n}@example.org" for n in range(READERS)
    ]
    assert all(r.message["Subject"] == "Autumn at the groups" for r in received)

    # The archive has it, without anyone's links.
    page.get_by_role("link", name="Public web version").click()
    expect(page.get_by_text("Hello everyone, this is the autumn letter.")).to_be_visible()
    assert "/u/" not in page.content()
