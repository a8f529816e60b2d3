"""Private servers for fault tests: a `redis-server` and a PostgreSQL cluster of the test's own,
on free loopback ports, in temporary folders, stopped by pid. The machine's shared Redis and
PostgreSQL are never touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.smtp import free_port


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout}s")


class RedisServer:
    """`redis-server` on 127.0.0.1:<port>, no persistence: a restart loses every queue, as a
    Redis with `--save ""` does."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() == "PONG"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait(self._ping, 20, f"private redis on port {self.port} did not answer")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program (initdb, pg_ctl): on PATH, or Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"{name} is not installed (Debian: postgresql)")
    return candidates[-1]


class PostgresCluster:
    """A throw-away cluster: `initdb` in a temporary folder, `pg_ctl` on a free port, trust
    authentication on loopback only. As root it runs as the `postgres` user (initdb refuses
    root)."""

    def __init__(self, port: int | None = None):
        # Its own folder under the system's temporary one: pytest's folders are private to
        # root, and the server runs as `postgres`.
        self.folder = Path(tempfile.mkdtemp(prefix="engage-pg-"))
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")

    def url(self, database: str = "engage") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        result = subprocess.run(
            list(command), capture_output=True, text=True, check=False, cwd=self.folder, **kwargs
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({result.returncode}): {result.stderr}")
        return result

    def _ctl(self, action: str, *extra: str) -> None:
        result = self._run(
            postgres_bin("pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "postgres.log"),
            "-w",
            "-t",
            "60",
            *extra,
            check=False,
        )
        if result.returncode != 0:
            log = (self.folder / "postgres.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pg_ctl {action} failed: {result.stderr}\n{log}")

    def init(self) -> PostgresCluster:
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        self._run(
            postgres_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        return self

    def start(self) -> PostgresCluster:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=60"
        )
        self._ctl("start", "-o", options)
        return self

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again on the same port."""
        self._ctl("stop", "-m", "fast")
        self.start()

    def stop(self) -> None:
        """Stop the server (by the pid in its folder) and delete the folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str = "engage") -> str:
        self._run(
            shutil.which("psql") or postgres_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-c",
            f'CREATE DATABASE "{name}"',
        )
        return self.url(name)
