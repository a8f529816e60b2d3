"""Without Chromium, browser tests skip on a developer's machine and fail in CI."""

import pytest

from tests.support.browser import require_chromium

MISSING = "/nonexistent/chromium"


def test_missing_chromium_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        require_chromium(MISSING)


def test_missing_chromium_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        require_chromium(MISSING)
