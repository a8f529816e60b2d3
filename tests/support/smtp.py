"""A real SMTP server (aiosmtpd) on loopback that records what it receives.

Tests read the messages it accepted, and can make it answer the next messages with a
temporary (4xx) or permanent (5xx) reply, or drop the connection, to exercise our retries.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    # Replies for the next DATA commands, consumed in order: "451 …", "550 …" or "drop".
    scripted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    # Random faults (see SmtpServer.faults) and a delay before each DATA reply.
    faults: random.Random | None = None
    temporary_ratio: float = 0.0
    drop_ratio: float = 0.0
    max_fault_streak: int = 2
    fault_streak: int = 0
    faults_answered: int = 0
    delay: float = 0.0
    # Replies to RCPT TO for given addresses, every time (a mailbox that stays full).
    refuse: dict[str, str] = field(default_factory=dict)

    def _random_fault(self) -> str | None:
        if self.faults is None or self.fault_streak >= self.max_fault_streak:
            self.fault_streak = 0
            return None
        roll = self.faults.random()
        if roll < self.drop_ratio:
            reply = "drop"
        elif roll < self.drop_ratio + self.temporary_ratio:
            reply = "451 4.3.0 Try again later (random fault)"
        else:
            self.fault_streak = 0
            return None
        self.fault_streak += 1
        self.faults_answered += 1
        return reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            reply = self.scripted.pop(0) if self.scripted else self._random_fault()
        if reply == "drop":
            server.transport.close()
            return "421 closing"
        if reply:
            return reply
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)
                )
            )
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """Start with `start()`; `messages` holds what was accepted, oldest first."""

    def __init__(self, port: int | None = None):
        self.handler = RecordingHandler()
        self.port = port or free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            decode_data=False,
            enable_SMTPUTF8=True,
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()
            self.handler.scripted.clear()
            self.handler.connections = 0
            self.handler.faults = None
            self.handler.fault_streak = 0
            self.handler.faults_answered = 0
            self.handler.delay = 0.0
            self.handler.refuse.clear()

    def faults(
        self,
        temporary: float = 1 / 3,
        drop: float = 0.05,
        seed: int = 1,
        max_streak: int = 2,
    ) -> None:
        """Answer a share of DATA commands with 451 and drop the connection on some, at random
        (seeded), never more than `max_streak` in a row. `reset()` turns it off."""
        with self.handler.lock:
            self.handler.faults = random.Random(seed)
            self.handler.temporary_ratio = temporary
            self.handler.drop_ratio = drop
            self.handler.max_fault_streak = max_streak
            self.handler.fault_streak = 0

    def refuse_recipient(self, address: str, reply: str) -> None:
        """Answer RCPT TO for `address` with `reply` (e.g. "452 4.2.2 Mailbox full"), always."""
        with self.handler.lock:
            self.handler.refuse[address] = reply

    def slow(self, seconds: float) -> None:
        """Wait `seconds` before answering each DATA (so a test can act mid-send)."""
        with self.handler.lock:
            self.handler.delay = seconds

    @property
    def faults_answered(self) -> int:
        with self.handler.lock:
            return self.handler.faults_answered

    def script(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.scripted.extend(replies)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until at least `count` messages arrived; fail with what did arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
