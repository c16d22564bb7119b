"""Beat's database step of a burst, chunk by chunk: each chrono's misfire policy is re-read
and each of its due occurrences recorded as a pending run, before that chunk is published.

On PostgreSQL both are one statement per chunk (automations.runs.occurrences), sent in
psycopg's pipeline mode: the server writes chunk k+1 while beat publishes chunk k, so a
burst costs about the larger of its database and publishing time instead of their sum
(at 300,000 chronos, 5,000 due a minute, the two were about 0.76 s and 0.72 s). A chunk is
published only once its statement is committed, so every message still has its row first.
Elsewhere (the embedded SQLite) the two steps run one after the other for each chunk.

Best effort, as before: with the database away the messages still go out, with the
policies read last time, and the worker creates each run when it takes the message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, connection

from automations.beat.entries import Entry, from_us

log = logging.getLogger(__name__)

Chunk = list[tuple[Entry, int]]  # (entry, due in microseconds)


class BurstRecorder:
    """Records a burst's chunks ahead of their publishing; ``waited_s`` is the time beat
    spent waiting for the database (what publishing did not hide)."""

    def __init__(self) -> None:
        self.waited_s = 0.0

    def record_then_publish(self, chunks: list[Chunk], publish: Callable[[Chunk], list]) -> list:
        """publish(chunk) for each chunk in order, each once its rows are written; their results, joined."""
        results: list = []
        left = list(chunks)
        if connection.vendor == "postgresql" and left:
            try:
                self._pipelined(left, publish, results)
            except (DatabaseError, InterfaceError, _driver_error()) as exc:
                log.warning("beat: could not record occurrences before sending them (%s)", exc)
                _forget_broken_connection()
        for chunk in left:  # SQLite, or what is left after a database error
            self._timed(_record_inline, chunk)
            results.extend(publish(chunk))
        return results

    def _pipelined(self, left: list[Chunk], publish: Callable[[Chunk], list], results: list) -> None:
        """Pops each chunk off ``left`` once published: on an error, the rest are for the caller."""
        connection.ensure_connection()
        with connection.connection.pipeline() as pipeline, connection.cursor() as cursor:
            in_flight = _send(cursor, left[0])
            while left:
                chunk = left[0]
                if in_flight:
                    self._timed(_receive, pipeline, cursor, chunk)  # its rows are committed now
                # PostgreSQL writes the next chunk while this one is published.
                in_flight = len(left) > 1 and _send(cursor, left[1])
                results.extend(publish(chunk))
                left.pop(0)

    def _timed(self, step: Callable, *args) -> None:
        started = time.perf_counter()
        step(*args)
        self.waited_s += time.perf_counter() - started


def _chrono_occurrences(chunk: Chunk) -> list[tuple[int, object]]:
    return [(entry.chrono_id, from_us(due)) for entry, due in chunk if entry.chrono_id is not None]


def _send(cursor, chunk: Chunk) -> bool:
    """The chunk's statement is on its way (False: the chunk has no chrono, nothing to write)."""
    from automations.runs import occurrences

    due = _chrono_occurrences(chunk)
    if due:
        occurrences.send_pending_with_policies(cursor, due)
    return bool(due)


def _receive(pipeline, cursor, chunk: Chunk) -> None:
    pipeline.sync()  # ends the statement's implicit transaction: committed once this returns
    _apply_policies(chunk, cursor.fetchall())


def _apply_policies(chunk: Chunk, rows) -> set[int]:
    """Each entry gets its chrono's policy as the database has it; the ids of the active chronos."""
    by_chrono: dict[int, list[Entry]] = {}
    for entry, _ in chunk:
        if entry.chrono_id is not None:
            by_chrono.setdefault(entry.chrono_id, []).append(entry)
    active = set()
    for pk, policy, window, is_active in rows:
        for entry in by_chrono.get(pk, ()):
            entry.policy = (policy, window)
        if is_active:
            active.add(pk)
    return active


def _record_inline(chunk: Chunk) -> None:
    """Two statements, one after the other: the policies, then the pending runs of the active chronos."""
    from automations.models import Chrono
    from automations.runs import occurrences

    due = _chrono_occurrences(chunk)
    if not due:
        return
    quote = connection.ops.quote_name
    ids = sorted({pk for pk, _ in due})
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {occurrences.policy_columns()} FROM {quote(Chrono._meta.db_table)} "
                           f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(ids))})", ids)
            active = _apply_policies(chunk, cursor.fetchall())
        occurrences.record_pending([(pk, when) for pk, when in due if pk in active])
    except (DatabaseError, InterfaceError) as exc:
        log.warning("beat: could not record %d occurrence(s) before sending them (%s)", len(due), exc)


def _driver_error() -> type[Exception]:
    """psycopg's own errors: what the pipeline's sync raises, outside Django's cursor wrapper."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL always comes with it
        return DatabaseError
    return psycopg.Error


def _forget_broken_connection() -> None:
    """A connection the pipeline left broken is closed, so the next query opens a new one."""
    raw = connection.connection
    if raw is not None and (raw.closed or raw.broken) and not connection.in_atomic_block:
        connection.close()
