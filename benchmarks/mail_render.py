"""How much rendering MJML once per content set saves over rendering per recipient.

    .venv/bin/python benchmarks/mail_render.py [RECIPIENTS]

Prints the time per message for both ways, measured in the same run on the same email (the
welcome email, whose footer carries per-recipient links), and their ratio. The per-recipient
way is the baseline: mjml-python compiles a new source for every unsubscribe link.
"""

from __future__ import annotations

import sys
import tempfile
import time

from engage import create_app
from engage.mail.message import build_message, bulk_headers, serialise
from engage.mail.render import (
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    compile_mjml,
    personalise,
    placeholder,
    render_email,
)

CONTEXT = {"topics": ["The newsletter", "News about support groups"], "digest": "weekly"}


def links(i: int) -> dict[str, str]:
    return {
        UNSUBSCRIBE_URL: f"https://news.example.org/u/recipient{i:08d}abcdefgh",
        PREFERENCES_URL: f"https://news.example.org/preferences/token-{i:08d}",
    }


def per_recipient(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        values = links(i)
        rendered = render_email(
            "subscription_welcome",
            {
                **CONTEXT,
                "unsubscribe_url": values[UNSUBSCRIBE_URL],
                "preferences_url": values[PREFERENCES_URL],
            },
        )
        msg = build_message(
            rendered,
            f"reader{i}@example.org",
            sender="Engage <news@example.org>",
            headers=bulk_headers("Engage <news.example.org>", values[UNSUBSCRIBE_URL]),
        )
        serialise(msg)
    return time.perf_counter() - start


def render_once(n: int) -> float:
    start = time.perf_counter()
    template = render_email(
        "subscription_welcome",
        {
            **CONTEXT,
            "unsubscribe_url": placeholder(UNSUBSCRIBE_URL),
            "preferences_url": placeholder(PREFERENCES_URL),
        },
    )
    for i in range(n):
        values = links(i)
        rendered = personalise(template, values)
        msg = build_message(
            rendered,
            f"reader{i}@example.org",
            sender="Engage <news@example.org>",
            headers=bulk_headers("Engage <news.example.org>", values[UNSUBSCRIBE_URL]),
        )
        serialise(msg)
    return time.perf_counter() - start


def render_only(n: int, once: bool) -> float:
    start = time.perf_counter()
    template = None
    for i in range(n):
        values = links(i)
        if once:
            if template is None:
                template = render_email(
                    "subscription_welcome",
                    {
                        **CONTEXT,
                        "unsubscribe_url": placeholder(UNSUBSCRIBE_URL),
                        "preferences_url": placeholder(PREFERENCES_URL),
                    },
                )
            personalise(template, values)
        else:
            render_email(
                "subscription_welcome",
                {
                    **CONTEXT,
                    "unsubscribe_url": values[UNSUBSCRIBE_URL],
                    "preferences_url": values[PREFERENCES_URL],
                },
            )
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "ENGAGE_ENV": "testing",
                "ENGAGE_INSTANCE_PATH": instance,
                "DATABASE_URL": f"sqlite:///{instance}/bench.db",
                "CELERY_BROKER_URL": "memory://",
            }
        )
        with app.app_context():
            render_once(5)  # warm the Jinja and import caches for both ways
            compile_mjml.cache_clear()
            baseline = per_recipient(n)
            compile_mjml.cache_clear()
            once = render_once(n)
            compile_mjml.cache_clear()
            render_baseline = render_only(n, once=False)
            compile_mjml.cache_clear()
            render_fast = render_only(n, once=True)
    print(f"recipients:                          {n}")
    print("rendering only (no MIME message):")
    print(f"  Jinja + MJML per recipient:        {render_baseline / n * 1000:8.3f} ms/message")
    print(f"  render once + personalise:         {render_fast / n * 1000:8.3f} ms/message")
    print(f"  speed-up:                          {render_baseline / render_fast:8.1f}x")
    print("whole message (render, MIME build, serialise):")
    print(f"  per recipient (baseline):          {baseline / n * 1000:8.3f} ms/message")
    print(f"  render once + personalise:         {once / n * 1000:8.3f} ms/message")
    print(f"  speed-up:                          {baseline / once:8.1f}x")


if __name__ == "__main__":
    main()
