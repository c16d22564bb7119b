"""The lock that lets only one beat send at a time.

Three kinds, chosen by `for_settings()` from the deployment:

* Redis (REDIS_URL set): a key with a TTL, renewed while held; a beat that dies or hangs
  loses it when the TTL runs out, and another takes over.
* PostgreSQL without Redis: a session advisory lock on a connection of its own; the
  server releases it the moment the holder's connection dies.
* SQLite (the embedded default, one machine by definition): an exclusive flock on a file
  beside the data; the kernel releases it when the holder dies.

Every lock answers `hold()` once per tick: True while this process may send. The lock is
the first line of defence; the second is the unique (chrono, scheduled_for, trigger) claim
of ChronoRun, which makes a send that slips through a takeover a no-op.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)


class RedisLock:
    """A lease in Redis: SET NX PX, renewed by its holder only (compare-and-extend)."""

    _RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
    # Take the key if free, or extend it if it is still ours. A holder whose local trust ran out
    # (a tick longer than 0.8 x TTL: a big burst on a starved machine) while its key had not
    # yet expired still holds the lock; SET NX alone would fail on its own key and report
    # "lost", and the reload that follows costs seconds at 100,000s of tasks.
    _ACQUIRE = ("local v = redis.call('get', KEYS[1]) "
                "if v == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
                "if v then return 0 end "
                "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1")
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, url: str, key: str, ttl_s: float = 10.0, client=None) -> None:
        import redis

        self.client = client or redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.key, self.ttl_ms = key, int(ttl_s * 1000)
        self.token = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._valid_until = 0.0  # monotonic: past it, we no longer trust that we hold the key
        self._renewed_at = 0.0

    def hold(self) -> bool:
        now = time.monotonic()
        if self._valid_until > now and now - self._renewed_at < self.ttl_ms / 3000:
            return True  # renewed recently enough; spare Redis a round trip per tick
        try:
            if self._valid_until > now:
                ok = bool(self.client.eval(self._RENEW, 1, self.key, self.token, self.ttl_ms))
            else:
                ok = bool(self.client.eval(self._ACQUIRE, 1, self.key, self.token, self.ttl_ms))
        except Exception as exc:  # redis down: we cannot prove we hold it, so we do not
            log.warning("beat lock: Redis unreachable (%s)", exc)
            ok = False
        if ok:
            # Trust the lease for a little less than its TTL, measured from before the call.
            self._renewed_at, self._valid_until = now, now + self.ttl_ms / 1000 * 0.8
        else:
            self._valid_until = 0.0
        return ok

    def release(self) -> None:
        try:
            self.client.eval(self._RELEASE, 1, self.key, self.token)
        except Exception as exc:
            log.warning("beat lock: could not release in Redis (%s); it expires by itself", exc)
        self._valid_until = 0.0


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a dedicated connection."""

    def __init__(self, key: int, alias: str = "default", check_every_s: float = 1.0) -> None:
        self.key, self.alias, self.check_every_s = key, alias, check_every_s
        self.connection = None
        self._checked_at = 0.0

    def hold(self) -> bool:
        now = time.monotonic()
        if self.connection is not None and now - self._checked_at < self.check_every_s:
            return True
        self._checked_at = now
        try:
            if self.connection is None:
                return self._acquire()
            with self.connection.cursor() as cursor:  # the lock lives as long as this session
                cursor.execute("SELECT 1")
            return True
        except DatabaseError as exc:
            log.warning("beat lock: lost the PostgreSQL session holding the lock (%s)", exc)
            self._drop()
            return False

    def _acquire(self) -> bool:
        connection = connections.create_connection(self.alias)
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
            (ok,) = cursor.fetchone()
        if ok:
            self.connection = connection
        else:
            connection.close()
        return bool(ok)

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except DatabaseError:
                pass
        self.connection = None

    def release(self) -> None:
        if self.connection is not None:
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            except DatabaseError:
                pass
        self._drop()


class FileLock:
    """An exclusive flock on a file: one beat per machine, released by the kernel on death."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    def hold(self) -> bool:
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def lock_name(alias: str = "default") -> str:
    """One lock per database: beats of other deployments (or test databases) never contend."""
    db = connections[alias].settings_dict
    return f"chronoflow:beat:{db.get('HOST') or 'local'}:{db.get('PORT') or ''}:{db['NAME']}"


def for_settings(alias: str = "default"):
    """The lock that fits this deployment (see the module docstring)."""
    if getattr(settings, "REDIS_URL", ""):
        return RedisLock(settings.REDIS_URL, lock_name(alias))
    if connections[alias].vendor == "postgresql":
        # Advisory lock keys are 64-bit integers: derive a stable one from the name.
        key = int.from_bytes(uuid.uuid5(uuid.NAMESPACE_URL, lock_name(alias)).bytes[:8], "big", signed=True)
        return AdvisoryLock(key, alias)
    db_file = Path(str(connections[alias].settings_dict["NAME"]))
    return FileLock(db_file.with_name(db_file.name + ".beat-lock"))
