"""A real Celery worker in a subprocess, consuming its own queue, for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


class CeleryWorker:
    """`start()` waits (bounded) until the worker says it is ready; `stop()` always ends it."""

    def __init__(
        self, env: dict[str, str], log_path: Path, queue: str | None = None, beat: bool = False
    ):
        self.queue = queue or f"engage-test-{uuid.uuid4().hex[:12]}"
        # Its default queue is the one it consumes: what it (or its beat) sends, it gets.
        self.env = {
            **os.environ,
            **env,
            "CELERY_QUEUE": self.queue,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = log_path
        self.beat = beat  # run the scheduler inside the worker (`-B`), as `make run` does
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> CeleryWorker:
        command = [
            str(CELERY),
            "-A",
            "workers.app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-l",
            "info",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if self.beat:
            command += ["-B", "-s", str(self.log_path.with_suffix(".beat-schedule"))]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.log()}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the worker was not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return self.log()
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the worker log:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def forget_queue(broker_url: str, queue: str) -> None:
    """Drop a test queue's keys from Redis, which keeps every queue ever declared."""
    if broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker_url)
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
        client.close()
