"""Limits shared by every worker sending bulk mail: messages per second and SMTP connections.

With a Redis broker the limits live in Redis, so they hold across workers and hosts (Celery's
own `rate_limit` is per worker). Otherwise (SQLite and the filesystem broker in development,
where one worker is enough) they are kept in the process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from functools import lru_cache

log = logging.getLogger(__name__)

SLOTS_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], 86400)
  return 1
end
return 0
"""


class LocalRateLimiter:
    """A token bucket in this process: `acquire()` waits until a message may go."""

    def __init__(self, per_second: float):
        self.per_second = per_second
        self.capacity = max(1.0, per_second)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if self.per_second <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(
                    self.capacity, self.tokens + (now - self.updated) * self.per_second
                )
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.per_second
            time.sleep(wait)


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError)


class RedisRateLimiter:
    """A one-second window counted in Redis, shared by every worker. While Redis cannot be
    reached it limits this process alone (logged), rather than stop the send."""

    def __init__(self, client, prefix: str, per_second: float):
        self.client = client
        self.prefix = prefix
        self.per_second = per_second

    def acquire(self) -> None:
        if self.per_second <= 0:
            return
        limit = max(1, int(self.per_second))
        while True:
            now = time.time()
            key = f"{self.prefix}:rate:{int(now)}"
            try:
                with self.client.pipeline() as pipe:
                    count, _ = pipe.incr(key).expire(key, 5).execute()
            except _redis_errors() as exc:
                log.warning("send rate limit: Redis unreachable (%s); limiting locally", exc)
                _local_limiter(self.per_second).acquire()
                return
            if count <= limit:
                return
            time.sleep(max(0.001, 1 - (now % 1)))


class LocalSlots:
    """At most `limit` SMTP connections from this process."""

    def __init__(self, limit: int):
        self.limit = limit
        self.holders: set[str] = set()
        self.lock = threading.Lock()

    def acquire(self, token: str, ttl: float) -> bool:
        with self.lock:
            if token in self.holders or len(self.holders) < self.limit:
                self.holders.add(token)
                return True
            return False

    def release(self, token: str) -> None:
        with self.lock:
            self.holders.discard(token)


class RedisSlots:
    """At most `limit` SMTP connections across workers. A holder renews its slot by acquiring
    again; a killed worker's slot lapses after `ttl` seconds."""

    def __init__(self, client, prefix: str, limit: int):
        self.client = client
        self.key = f"{prefix}:smtp-slots"
        self.limit = limit
        self.script = client.register_script(SLOTS_SCRIPT)

    def acquire(self, token: str, ttl: float) -> bool:
        now = time.time()
        try:
            return bool(self.script(keys=[self.key], args=[now, now + ttl, token, self.limit]))
        except _redis_errors() as exc:
            # Without Redis the cap holds per process: a send slows or speeds a little, but
            # never stops because the limiter's storage is restarting.
            log.warning("SMTP connection slots: Redis unreachable (%s); counting locally", exc)
            return _local_slots(self.limit).acquire(token, ttl)

    def release(self, token: str) -> None:
        _local_slots(self.limit).release(token)
        try:
            self.client.zrem(self.key, token)
        except _redis_errors() as exc:
            log.warning("SMTP connection slots: Redis unreachable (%s); the slot lapses", exc)


def _prefix(database_url: str) -> str:
    # One database, one set of limits: two installations sharing a Redis do not slow each other.
    return "engage:send:" + hashlib.sha256(database_url.encode()).hexdigest()[:12]


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    # Short timeouts: a Redis that went away is noticed in a second, not a minute.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


@lru_cache(maxsize=4)
def _local_limiter(per_second: float) -> LocalRateLimiter:
    return LocalRateLimiter(per_second)


@lru_cache(maxsize=4)
def _local_slots(limit: int) -> LocalSlots:
    return LocalSlots(limit)


def _redis_url(settings) -> str | None:
    url = settings.broker_url or ""
    return url if url.startswith(("redis://", "rediss://")) else None


def rate_limiter(settings) -> LocalRateLimiter | RedisRateLimiter:
    url = _redis_url(settings)
    if url is None:
        return _local_limiter(settings.send_rate_per_second)
    return RedisRateLimiter(
        _redis(url), _prefix(settings.database_url), settings.send_rate_per_second
    )


def connection_slots(settings) -> LocalSlots | RedisSlots:
    url = _redis_url(settings)
    if url is None:
        return _local_slots(settings.smtp_max_connections)
    return RedisSlots(_redis(url), _prefix(settings.database_url), settings.smtp_max_connections)


def reset(settings) -> None:
    """Forget every slot and count (tests, and an operator after a crash of every worker)."""
    url = _redis_url(settings)
    if url is None:
        _local_slots.cache_clear()
        _local_limiter.cache_clear()
        return
    client = _redis(url)
    keys = list(client.scan_iter(match=_prefix(settings.database_url) + ":*"))
    if keys:
        client.delete(*keys)
