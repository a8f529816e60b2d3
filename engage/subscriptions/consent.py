"""The words a reader agrees to, kept in one place: the form shows them and the consent record
stores them, with a version that names the exact text.

Change a wording here and both change together; the version changes with it, so records made
under the old words still say which words those were.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def text_version(text: str) -> str:
    """A short version string that names `text` exactly (the start of its SHA-256)."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Wording:
    """One consent text as the reader sees it; `version` is derived from the words."""

    text: str

    @property
    def version(self) -> str:
        return text_version(self.text)


# Under the sign-up form (article box, footer, /subscribe).
SIGN_UP = Wording(
    "We respect your privacy. Unsubscribe at any time. By subscribing you agree to receive the "
    "emails you chose; we send a confirmation first."
)
# Beside the preference centre's "Subscribe again" button.
SUBSCRIBE_AGAIN = Wording(
    "By subscribing again you agree to receive the emails you had chosen. We send a "
    "confirmation first, and you can unsubscribe at any time."
)
