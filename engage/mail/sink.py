"""A development SMTP server that keeps every message it receives as a file.

`make run` starts it when no SMTP_URL is set; `/dev/outbox` shows what it stored:

    python -m engage.mail.sink --port 8025 --folder instance/outbox
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

DEFAULT_PORT = 8025
# `<UTC timestamp>-<random>.eml`: sorting names sorts by arrival; nothing else is served.
MESSAGE_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{16}\.eml$")


def message_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(8)}.eml"


class OutboxHandler:
    """aiosmtpd handler: writes each message to `folder` (atomically, so readers never see half)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def store(self, raw: bytes) -> Path:
        path = self.folder / message_name()
        partial = path.with_suffix(".part")
        partial.write_bytes(raw)
        os.replace(partial, path)
        return path

    async def handle_DATA(self, server, session, envelope) -> str:
        path = self.store(bytes(envelope.original_content or envelope.content))
        log.info("stored message for %s as %s", ", ".join(envelope.rcpt_tos), path.name)
        return "250 2.0.0 Stored in the development outbox"


def start_sink(folder: str | Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Controller:
    """Start the sink in a background thread; call `.stop()` on the result to end it."""
    controller = Controller(
        OutboxHandler(Path(folder)), hostname=host, port=port, enable_SMTPUTF8=True
    )
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Development SMTP sink for Engage.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--folder", default=str(Path("instance") / "outbox"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sink %(message)s")

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    controller = start_sink(args.folder, args.host, args.port)
    log.info("SMTP sink on %s:%s, storing in %s", args.host, args.port, args.folder)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
