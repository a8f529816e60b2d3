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
import socket
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


class DovecotServer:
    """Debian's `dovecot` serving one mailbox over plain IMAP and POP3 on free loopback ports,
    with a configuration, a passwd-file and a maildir in a temporary folder of its own.
    Stopped by pid.

    Dovecot refuses to run its login processes as root, and mail processes as uid 0. As root
    it runs them as Debian's `dovenull` and `dovecot` users (the maildir belongs to
    `dovecot`); as anyone else, everything runs as that user.
    """

    USER = "bounces"
    PASSWORD = "a-mailbox-password"

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="engage-dovecot-"))
        self.imap_port = free_port()
        self.pop3_port = free_port()
        self.process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            self.login_user, self.internal_user = "dovenull", "dovecot"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            self.login_user = self.internal_user = mail_user.pw_name
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
        self.maildir = self.folder / "mail" / self.USER

    def url(self, scheme: str = "imap", folder: str = "INBOX") -> str:
        port = self.imap_port if scheme == "imap" else self.pop3_port
        path = f"/{folder}" if scheme == "imap" else ""
        return f"{scheme}://{self.USER}:{self.PASSWORD}@127.0.0.1:{port}{path}"

    def _config(self) -> str:
        base = self.folder
        return f"""
protocols = imap pop3
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {self.login_user}
default_internal_user = {self.internal_user}
first_valid_uid = 1
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as sock:
                return sock.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def start(self) -> DovecotServer:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise RuntimeError("dovecot is not installed (Debian: dovecot-imapd dovecot-pop3d)")
        # Dovecot's own users must get through the folder to the passwd-file and the mail.
        self.folder.chmod(0o711)
        for sub in ("run", "state", "mail"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        home = self.maildir
        (self.folder / "passwd").write_text(
            f"{self.USER}:{{PLAIN}}{self.PASSWORD}:{self.uid}:{self.gid}::{home}::\n"
        )
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for path in [self.folder / "mail", *(self.folder / "mail").rglob("*")]:
            os.chown(path, self.uid, self.gid)
        config = self.folder / "dovecot.conf"
        config.write_text(self._config())
        # -F: in the foreground, so the pid we hold is the master's.
        with (self.folder / "stderr.log").open("ab") as errors:
            self.process = subprocess.Popen(
                [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=errors
            )
        try:
            _wait(self._answers, 20, f"dovecot on port {self.imap_port} did not answer")
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"dovecot did not start: {self.log()}") from None
        return self

    def log(self) -> str:
        parts = [self.folder / "dovecot.log", self.folder / "stderr.log"]
        return "".join(p.read_text(errors="replace") for p in parts if p.exists())

    def deliver(self, raw: bytes, folder: str = "INBOX") -> Path:
        """Drop a message into the maildir as a mail server would (tmp/, then new/)."""
        box = self.maildir if folder == "INBOX" else self.maildir / f".{folder}"
        name = f"{time.time_ns()}.{os.getpid()}.engage-test"
        tmp = box / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        target = box / "new" / name
        tmp.rename(target)
        return target

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """What the mailbox holds now, read from the maildir itself."""
        box = self.maildir if folder == "INBOX" else self.maildir / f".{folder}"
        found = []
        for sub in ("new", "cur"):
            if (box / sub).is_dir():
                found += [p.read_bytes() for p in sorted((box / sub).iterdir()) if p.is_file()]
        return found

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
