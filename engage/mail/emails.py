"""One function per email: it names the email and returns the context its templates need.

The templates live in `emails/<name>/` (name = the function's name). Contexts are JSON values
only, because they travel through the broker to the worker that renders and sends them.
"""

from __future__ import annotations


def test_message(to: str) -> dict:
    """A test email from the admin to check the mail set-up."""
    return {"recipient": to}
