"""The whole newsletter send, end to end, against what the mail server allows and a naive way.

    .venv/bin/python benchmarks/send.py [READERS] [--workers N]

Needs PostgreSQL and Redis on loopback (BENCH_DATABASE_URL, default
postgresql://postgres@127.0.0.1/test, beside which a database is created and dropped;
BENCH_BROKER_URL, default redis://127.0.0.1:6379/14, on a queue of its own). Everything else
is local: an SMTP sink (aiosmtpd, in its own process) that only counts.

Prints, measured in the same run:
- end to end: messages per second from "send now" (commit) to status `sent`, with READERS
  confirmed readers (default 20,000), the real pipeline (start task, audience snapshot, batch
  tasks in real Celery worker processes, Redis, PostgreSQL);
- the sink's ceiling: one smtplib client sending READERS prebuilt messages of the same size
  over one connection, and the ratio end to end / ceiling;
- a naive pipeline (render MJML per recipient, build the message with the email package, a
  new SMTP connection per message), measured on a sample (1,000) and scaled, and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from engage import create_app  # noqa: E402
from engage.extensions import db  # noqa: E402
from engage.mail.message import build_message, bulk_headers, serialise  # noqa: E402
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL, compile_mjml  # noqa: E402
from engage.mail.transport import SmtpTransport  # noqa: E402
from engage.newsletters import sending, service  # noqa: E402
from engage.newsletters.models import Newsletter  # noqa: E402
from engage.newsletters.render import render_newsletter  # noqa: E402
from engage.scratch import create_scratch_database, drop_scratch_database  # noqa: E402
from engage.subscriptions.models import Subscriber, Topic, subscriber_topics  # noqa: E402
from engage.subscriptions.service import address_hash  # noqa: E402
from engage.types import opaque_id, utcnow  # noqa: E402

BODY = (
    "Hello,\n\nThis week: three new support groups, two evening events, and a reminder that "
    "the [helpline](https://example.org/help) is open every day.\n\n"
    + "A paragraph about the groups near you, what to expect at a first meeting. "
    * 12
)
TIME_LIMIT = 600.0  # the whole run stops by itself


# --- the sink ------------------------------------------------------------------------------


def _sink(port: int, count, ready) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 Ok"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    ready.set()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


class Sink:
    def __init__(self):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.count = multiprocessing.Value("q", 0)
        ready = multiprocessing.Event()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        self.process = multiprocessing.Process(
            target=_sink, args=(self.port, self.count, ready), daemon=True
        )
        self.process.start()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        if not ready.wait(20):
            raise RuntimeError("the SMTP sink did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def received(self) -> int:
        return self.count.value

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


# --- databases and workers -----------------------------------------------------------------


def fresh_postgres(url: str) -> str:
    return create_scratch_database(url, "bench")


def drop_postgres(url: str) -> None:
    drop_scratch_database(url)


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "workers.app",
        "worker",
        "--pool=solo",
        "-l",
        "warning",
        "-Q",
        queue,
        "-n",
        f"{queue}-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def add_readers(count: int, topic: Topic) -> None:
    now = utcnow()
    chunk = 5000
    for start in range(0, count, chunk):
        addresses = [f"reader{i:07d}@example.org" for i in range(start, min(count, start + chunk))]
        db.session.execute(
            insert(Subscriber),
            [
                {
                    "email": a,
                    "email_hash": address_hash(a),
                    "status": "confirmed",
                    "digest": "off",
                    "timezone": "UTC",
                    "interests": {},
                    "unsubscribe_id": opaque_id(),
                    "created_at": now,
                    "confirmed_at": now,
                    "confirmations_sent_today": 0,
                    "hard_bounces": 0,
                }
                for a in addresses
            ],
        )
        ids = db.session.scalars(select(Subscriber.id).where(Subscriber.email.in_(addresses)))
        db.session.execute(
            insert(subscriber_topics), [{"subscriber_id": i, "topic_id": topic.id} for i in ids]
        )
    db.session.commit()


# --- the three measurements ----------------------------------------------------------------


def end_to_end(app, count: int, sink: Sink, workers: list) -> float:
    topic = Topic(slug="newsletter", name="The newsletter", is_default=True)
    db.session.add(topic)
    db.session.flush()
    add_readers(count, topic)
    newsletter = service.create_newsletter(
        db.session, subject="This week", body_markdown=BODY, topic_slugs=["newsletter"]
    )
    db.session.commit()
    before = sink.received()
    started = time.perf_counter()
    service.send_now(db.session, newsletter)
    db.session.commit()
    deadline = time.monotonic() + TIME_LIMIT
    while True:
        db.session.rollback()
        status = db.session.get(Newsletter, newsletter.id, populate_existing=True).status
        if status == "sent":
            break
        if status not in ("scheduled", "sending") or time.monotonic() > deadline:
            raise RuntimeError(f"the send did not finish: {status}, {sink.received()} received")
        if any(w.poll() is not None for w in workers):
            raise RuntimeError("a worker exited")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    counts = service.counts(db.session, newsletter.id)
    if counts["sent"] != count or sink.received() - before != count:
        raise RuntimeError(f"not everyone got exactly one message: {counts}")
    return elapsed


def sample_message(app) -> tuple[str, bytes]:
    rendered = render_newsletter("This week", "", BODY)
    newsletter = Newsletter(subject="This week", rendered_html=rendered.html)
    newsletter.rendered_text = rendered.text
    template = sending.message_template(newsletter)
    url = "http://127.0.0.1:5000/u/" + opaque_id()
    message = template.build(
        "reader0000001@example.org",
        {UNSUBSCRIBE_URL: url, PREFERENCES_URL: url + "/preferences-token-xxxxxxxxxxxx"},
        bulk_headers("Engage <news.localhost>", url),
    )
    return message.sender, message.raw


def ceiling(app, count: int, sink: Sink) -> float:
    sender, raw = sample_message(app)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as client:
        for _ in range(count):
            client.sendmail(sender, ["reader0000001@example.org"], raw)
    return time.perf_counter() - started


def naive(app, count: int, sink: Sink) -> float:
    """Per recipient: Jinja + MJML, the email package, a new connection."""
    from engage.config import SmtpSettings

    settings = SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10)
    started = time.perf_counter()
    for i in range(count):
        url = f"http://127.0.0.1:5000/u/{opaque_id()}"
        source_url = f"{url}?n={i}"  # a new source per recipient, as with real links
        rendered = render_newsletter(
            "This week", "", BODY.replace("https://example.org/help", source_url)
        )
        msg = build_message(
            rendered.__class__(
                rendered.subject,
                rendered.html.replace("%%UNSUBSCRIBE_URL%%", url).replace(
                    "%%PREFERENCES_URL%%", url
                ),
                rendered.text.replace("%%UNSUBSCRIBE_URL%%", url).replace(
                    "%%PREFERENCES_URL%%", url
                ),
            ),
            f"reader{i:07d}@example.org",
            sender="Engage <newsletter@localhost>",
            headers=bulk_headers("Engage <news.localhost>", url),
        )
        serialise(msg)
        with SmtpTransport(settings) as transport:
            transport.send(msg)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("readers", type=int, nargs="?", default=20_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--naive-sample", type=int, default=1000)
    args = parser.parse_args()

    database = fresh_postgres(
        os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    )
    broker = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    queue = f"engage-bench-{uuid.uuid4().hex[:8]}"
    sink = Sink()
    workers: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as instance:
        env = {
            "ENGAGE_ENV": "testing",
            "ENGAGE_INSTANCE_PATH": instance,
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": broker,
            "SMTP_URL": sink.url,
            "SEND_RATE_PER_SECOND": "0",
            "SEND_BATCH_SIZE": "200",
            "SMTP_MAX_CONNECTIONS": str(args.workers),
        }
        app = create_app(env)
        app.extensions["celery"].conf.task_default_queue = queue
        try:
            with app.app_context():
                upgrade()
                log = Path(instance) / "workers.log"
                workers = [start_worker(env, queue, log) for _ in range(args.workers)]
                time.sleep(0.5)
                # Ready when each has run a heartbeat task from the queue.
                for _ in workers:
                    app.extensions["celery"].send_task("engage.heartbeat")
                import redis

                client = redis.Redis.from_url(broker)
                deadline = time.monotonic() + 60
                while client.llen(queue) and time.monotonic() < deadline:
                    time.sleep(0.1)
                client.close()
                time.sleep(1.0)

                e2e = end_to_end(app, args.readers, sink, workers)
                sample = min(args.naive_sample, args.readers)
                compile_mjml.cache_clear()
                naive_time = naive(app, sample, sink) * args.readers / sample
                top = ceiling(app, args.readers, sink)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
            sink.stop()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            drop_postgres(database)
            import redis

            client = redis.Redis.from_url(broker)
            keys = list(client.scan_iter(match=f"*{queue}*"))
            if keys:
                client.delete(*keys)
            client.close()

    n = args.readers
    print(f"readers:                              {n}")
    print(f"worker processes:                     {args.workers} (cores: {os.cpu_count()})")
    print(f"end to end (send now → sent):         {n / e2e:9.1f} messages/s  ({e2e:.2f} s)")
    print(f"sink ceiling (1 client, 1 connection): {n / top:8.1f} messages/s  ({top:.2f} s)")
    print(f"  end to end / ceiling:               {top / e2e:9.2f}")
    print(
        f"naive pipeline (sample of {min(args.naive_sample, n)}, scaled): "
        f"{n / naive_time:7.1f} messages/s  ({naive_time:.2f} s)"
    )
    print(f"  end to end / naive:                 {naive_time / e2e:9.2f}x")


if __name__ == "__main__":
    main()
