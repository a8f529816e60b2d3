"""`make run`: the whole of Engage on one machine, with nothing but Python installed.

Starts, as child processes: a local SMTP sink (unless SMTP_URL is set), a Celery worker and
beat on the configured broker (the filesystem broker under instance/ unless CELERY_BROKER_URL or
REDIS_URL is set), and the web app. Ctrl-C stops all of them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from engage.config import Settings

BIN = Path(sys.executable).parent


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port for the SMTP sink")


def _wait_for_page(url: str, processes: list[subprocess.Popen], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
                return response.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            time.sleep(0.3)
    return False


def _stop(processes: list[subprocess.Popen]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and `kill` both stop everything, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    env.setdefault("ENGAGE_ENV", "development")
    env.setdefault("ENGAGE_INSTANCE_PATH", str(Path.cwd() / "instance"))
    settings = Settings.from_env(env, instance_path=env["ENGAGE_INSTANCE_PATH"])
    port = settings.port
    env.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    processes: list[subprocess.Popen] = []
    lines = []

    if not settings.smtp_url:
        sink_port = _free_port(int(env.get("SMTP_SINK_PORT", "8025")))
        outbox = Path(settings.instance_path) / "outbox"
        processes.append(
            subprocess.Popen(  # noqa: S603 (fixed argv, our own module)
                [
                    sys.executable,
                    "-m",
                    "engage.mail.sink",
                    "--port",
                    str(sink_port),
                    "--folder",
                    str(outbox),
                ],
                env=env,
            )
        )
        env["SMTP_URL"] = f"smtp://127.0.0.1:{sink_port}"
        lines.append(f"  Mail sink:  smtp://127.0.0.1:{sink_port}, read it at /dev/outbox")
    else:
        lines.append("  Mail:       sent through SMTP_URL")
    lines.append(
        "  Broker:     "
        + (
            "embedded (filesystem, under instance/broker)"
            if settings.broker_url == "filesystem://"
            else "from the environment"
        )
    )
    lines.append(
        "  Database:   "
        + (
            "SQLite under instance/"
            if settings.database_url.startswith("sqlite")
            else "from DATABASE_URL"
        )
    )

    celery = str(BIN / "celery")
    processes.append(
        subprocess.Popen(  # noqa: S603
            [celery, "-A", "workers.app", "worker", "--loglevel=INFO", "--concurrency=2"], env=env
        )
    )
    schedule = Path(settings.instance_path) / "celerybeat-schedule"
    processes.append(
        subprocess.Popen(  # noqa: S603
            [celery, "-A", "workers.app", "beat", "--loglevel=INFO", "-s", str(schedule)], env=env
        )
    )
    web = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "flask"),
            "--app",
            "engage",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-reload",
            "--no-debugger",
        ],
        env=env,
    )
    processes.append(web)

    previous = signal.getsignal(signal.SIGINT)
    try:
        url = f"http://127.0.0.1:{port}/"
        if not _wait_for_page(url, processes):
            print("Engage did not start; see the messages above.", file=sys.stderr)
            return 1
        from engage.demo import demo_logins

        print("\n" + "=" * 64)
        print(f"Engage is running at {url}   (Ctrl-C stops everything)")
        print("\n".join(lines))
        print(f"  Health:     {url}healthz")
        print("  Demo logins (sign in at /login):")
        for role, email, password in demo_logins():
            print(f"    {role:<10} {email:<26} {password}")
        print("=" * 64 + "\n", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = [p.args[:4] for p in processes if p.poll() is not None]
        print(f"A part of Engage stopped: {failed}; stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Engage…", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(processes)
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
