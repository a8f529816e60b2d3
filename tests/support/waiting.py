"""Waiting for a condition with a deadline: never for a sleep to be long enough."""

from __future__ import annotations

import time


def wait_until(check, timeout: float = 30.0, interval: float = 0.1, message=""):
    """Poll `check()` until it returns something truthy; fail (bounded) otherwise.

    `message` may be a callable, so the failure says how things stood at the end."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    if callable(message):
        message = message()
    raise AssertionError(message or f"condition not met within {timeout}s (last: {last!r})")
