"""Headless Chromium from Debian, driven by Playwright.

We use the distribution's browser rather than Playwright's download: nothing is fetched at test
time, and the browser gets its security updates from apt. Without it, a developer's run skips
the browser tests with the reason; a CI run (CI=true) fails, so a missing browser is never
mistaken for a green build.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require_chromium(path: str = CHROMIUM) -> str:
    """The browser's path; skips the test without it, or fails when running in CI."""
    if Path(path).is_file() and os.access(path, os.X_OK):
        return path
    reason = f"Chromium not found at {path} (install it with: apt-get install chromium)"
    if in_ci():
        pytest.fail(f"{reason}; browser tests must run in CI", pytrace=False)
    pytest.skip(reason)


def launch(playwright, path: str = CHROMIUM):
    """A headless Chromium Browser from `playwright.chromium`."""
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
