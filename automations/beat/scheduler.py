"""ChronoFlow's celery beat scheduler, over django-celery-beat's tables.

Run with ``celery -A chronoflow beat -S automations.beat.scheduler:ChronoScheduler`` (settings
name it in CELERY_BEAT_SCHEDULER, so plain ``celery beat`` uses it too).

PeriodicTask rows stay the source of truth, editable in the admin; plain PeriodicTasks
that are not chronos are sent as django-celery-beat would send them. What differs from
django-celery-beat's DatabaseScheduler is the cost model:

* a heap of (next fire, entry) built once; each tick sends *every* due entry, then sleeps
  until the next one is due (at most a second), so precision is sub-second;
* changes are loaded incrementally: PeriodicTasks.last_update (one row) is polled each
  second, and only when it moves are rows with a newer ``date_changed`` read; a cheap
  count notices deletions; a full (id, date_changed) comparison runs every few minutes as
  a safety net. Nothing per tick depends on the number of tasks;
* chronos are sent as ``run_chrono(chrono_id, scheduled_for)`` with the exact occurrence,
  so the worker's unique claim makes any second send of it a no-op;
* each due chrono occurrence is a pending ChronoRun before it is a message (one statement
  per chunk of 500, written while the previous chunk is published: automations.beat.pending):
  a message lost with the broker leaves its row, which the reaper sends again;
* occurrences missed while beat was down follow each chrono's misfire policy (the dropped
  ones are recorded as skipped runs, with their reason), and each message expires when the
  same policy says it is no longer worth running (the reaper then records it as skipped);
* a lock (automations.beat.lock) lets one beat send at a time; a standby takes over when
  the holder dies, after a fresh load.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Callable

from celery.beat import Scheduler
from django.db import DatabaseError, InterfaceError, close_old_connections, connection
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import ModelEntry

from automations.beat import entries as be, lock as beat_lock, pending
from automations.beat.entries import US, Entry, from_us, to_us
from automations.beat.messages import NOT_HANDLED, Messages

log = logging.getLogger(__name__)

Publish = Callable[[str, tuple, dict, dict], object]


class ChronoScheduler(Scheduler):
    """A beat scheduler for 100,000s of PeriodicTasks with sub-second dispatch.

    `clock` (returns an aware datetime), `lock` (anything with hold()/release()) and
    `publish(task, args, kwargs, options)` can be injected; tests use all three.
    """

    max_interval = 0.5  # longest sleep: each wake-up may poll for changes
    poll_every_s = 0.5  # one primary-key read of PeriodicTasks.last_update
    settle_s = 5.0  # keep re-reading changes this long after PeriodicTasks.last_update moves
    margin_s = 5.0  # read rows changed this long before the last change we saw (commit lag, clock skew)
    reconcile_every_s = 300.0
    misfire_grace_s = 5.0  # later than this and an occurrence counts as missed
    lock_retry_s = 1.0
    # Past this many dropped occurrences waiting to be written (100,000 chronos after a long
    # outage), each chrono gets one skipped row that counts the rest: beat's memory stays flat.
    max_dropped_backlog = 200_000
    dropped_per_tick = 1000  # skipped rows written per tick: a long outage's backlog must not delay sends
    publish_batch = 500  # occurrences per database statement and Redis pipeline (see _publish_entries)
    first_publish_batch = 100

    def __init__(self, *args, clock: Callable[[], datetime] | None = None, lock=None,
                 publish: Publish | None = None, **kwargs) -> None:
        self.clock = clock or timezone.now
        self.lock = lock
        self.publish = self._publish_to_broker if publish is None else publish
        self.entries: dict[int, Entry] = {}
        self._known: dict[int, int] = {}  # every enabled row, scheduled or not -> its date_changed
        self._rules: dict[tuple, object] = {}
        self._queue: list[tuple[int, int, Entry]] = []
        self._seq = itertools.count()
        self._pending: list[tuple[Entry, int]] = []  # misfires and late ones found while loading
        self._marks: list[tuple[int, int, bool]] = []  # (task id, occurrence, one-off) sent, not yet written
        self._dropped: list[tuple[int, int, str]] = []  # (chrono id, occurrence, reason) dropped, not yet written
        self._holding = self._loaded = False
        self._seen_stamp = self._since = None
        self._settle_until = self._next_poll = self._next_reconcile = 0
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval, type(self).max_interval)
        self._messages = Messages(self.app)
        self._unregistered: set[str] = set()

    # --- celery beat's interface ----------------------------------------------------

    def setup_schedule(self) -> None:
        """Store beat_schedule from the config as PeriodicTasks, then load (if we hold the lock)."""
        self.install_default_entries({})
        for name, fields in (self.app.conf.beat_schedule or {}).items():
            ModelEntry.from_entry(name, app=self.app, **fields)
        self._load_if_holding()

    def install_default_entries(self, data) -> None:
        if self.app.conf.result_expires:
            ModelEntry.from_entry("celery.backend_cleanup", app=self.app, task="celery.backend_cleanup",
                                  schedule=self._backend_cleanup_schedule(),
                                  options={"expire_seconds": 12 * 3600})

    @staticmethod
    def _backend_cleanup_schedule():
        from celery.schedules import crontab

        return crontab("0", "4", "*")

    def tick(self, *args, **kwargs) -> float:
        """Send everything due; return how long to sleep (at most max_interval)."""
        if not self._hold_lock():
            return self.lock_retry_s
        now = self.now_us()
        try:
            if not self._loaded:
                self._load_all(now)
            self._send_due(now)  # what is due goes first; reading changes can wait
            self._poll_changes(self.now_us())
            self._send_due(self.now_us())
            self.sync()
            self._maybe_reconcile(self.now_us())
        except (DatabaseError, InterfaceError) as exc:
            log.error("beat: database error, retrying next tick: %s", exc)
            self._drop_connection()
            return self.lock_retry_s
        return self._sleep_for(self.now_us())

    def _load_if_holding(self) -> None:
        """Acquire the lock and load, so start-up cost is paid before the first sleep."""
        if self._hold_lock() and not self._loaded:
            try:
                self._load_all(self.now_us())
            except (DatabaseError, InterfaceError) as exc:
                log.error("beat: could not load the schedule yet: %s", exc)

    def sync(self) -> None:
        """Write last_run_at / total_run_count of what was sent (and disable sent one-offs),
        then some of the skipped runs of occurrences the misfire policy dropped."""
        if self._marks:
            marks, self._marks = self._marks, []
            try:
                _write_marks(marks)
            except (DatabaseError, InterfaceError):
                self._marks = marks + self._marks
                raise
        self._write_dropped()

    def _write_dropped(self) -> None:
        from automations.runs import occurrences  # models: loaded once Django is set up, as below

        if not self._dropped:
            return
        dropped, self._dropped = self._dropped[:self.dropped_per_tick], self._dropped[self.dropped_per_tick:]
        try:
            occurrences.record_skipped([(pk, from_us(due), reason) for pk, due, reason in dropped], self.clock())
        except (DatabaseError, InterfaceError):
            self._dropped = dropped + self._dropped
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.lock is not None and self._holding:
                self.lock.release()
            self._holding = False

    @property
    def info(self) -> str:
        lock = type(self.lock).__name__ if self.lock is not None else "chosen at start"
        return f"    . lock -> {lock}\n    . tasks -> {len(self.entries)} scheduled"

    def now_us(self) -> int:
        return to_us(self.clock())

    # --- the lock ---------------------------------------------------------------------

    def _hold_lock(self) -> bool:
        if self.lock is None:
            self.lock = beat_lock.for_settings()
        held = self.lock.hold()
        if held and not self._holding:
            log.info("beat: holding the beat lock (%s); loading the schedule", type(self.lock).__name__)
            self._loaded = False  # a takeover starts from what the database says was sent
        elif self._holding and not held:
            log.warning("beat: lost the beat lock; another beat sends now")
            self._forget_all()
        self._holding = held
        return held

    def _forget_all(self) -> None:
        # _dropped stays: those occurrences were dropped whatever a reload finds.
        self.entries, self._known, self._queue, self._pending = {}, {}, [], []
        self._loaded = False

    # --- loading ----------------------------------------------------------------------

    def _load_all(self, now: int) -> None:
        started = time.monotonic()
        self._forget_all()
        self._seen_stamp = PeriodicTasks.last_change()
        self._since = (self._seen_stamp or from_us(now)) - timedelta(seconds=self.margin_s)
        self._rules = be.load_rules()
        for row in be.rows(PeriodicTask.objects.filter(enabled=True)):
            self._known[row[0]] = be.to_us(row[9])
            entry = be.build_entry(row, self._rules)
            if entry is not None:
                self.entries[entry.id] = entry
                self._plan(entry, _lower_bound(entry), now, push=self._queue.append)
        heapq.heapify(self._queue)
        # The schedule lives as long as beat: keep the cyclic GC from walking it on every
        # full collection (a burst of sends allocates enough to trigger some).
        gc.collect()
        gc.freeze()
        self._loaded = True
        self._next_poll = now + int(self.poll_every_s * US)
        self._next_reconcile = now + int(self.reconcile_every_s * US)
        log.info("beat: %d periodic tasks loaded in %.2fs (%d due or missed now)",
                 len(self.entries), time.monotonic() - started, len(self._pending))

    def _plan(self, entry: Entry, lower: int, now: int, push=None) -> None:
        max_dropped = be.MAX_DROPPED_ROWS if len(self._dropped) < self.max_dropped_backlog else 1
        sends, dropped, next_due = be.plan(entry, lower, now, int(self.misfire_grace_s * US), max_dropped)
        self._pending.extend((entry, due) for due in sends)
        if entry.chrono_id is not None:
            self._dropped.extend((entry.chrono_id, due, reason) for due, reason in dropped)
        if next_due is None and not sends:
            self.entries.pop(entry.id, None)  # a one-off already done: nothing left to send
            return
        self._enqueue(entry, next_due, push)

    def _enqueue(self, entry: Entry, due: int | None, push=None) -> None:
        if due == entry.due_us:
            return  # already queued for that instant
        entry.due_us = due
        if due is not None:
            item = (due, next(self._seq), entry)
            push(item) if push else heapq.heappush(self._queue, item)

    def _upsert(self, row: tuple, now: int) -> None:
        """Apply one changed row: keep its place when its schedule did not change."""
        pk, enabled, date_changed = row[0], row[3], row[9]
        old = self.entries.get(pk)
        if not enabled:
            self._remove(pk)
            return
        self._ensure_rules(row)
        self._known[pk] = to_us(date_changed)
        entry = be.build_entry(row, self._rules)
        if entry is None:
            self.entries.pop(pk, None)
        elif old is not None and _same_schedule(old, entry):
            entry.last_us = _latest(old.last_us, entry.last_us)
            for slot in ("name", "task", "chrono_id", "changed_us", "last_us", "policy", "extra"):
                setattr(old, slot, getattr(entry, slot))
        else:
            self.entries[pk] = entry
            self._plan(entry, _lower_bound(entry, old.last_us if old else None), now)

    def _remove(self, pk: int) -> None:
        self.entries.pop(pk, None)  # its heap item goes stale and is dropped when popped
        self._known.pop(pk, None)

    def _ensure_rules(self, row: tuple) -> None:
        crontab_id, interval_id, clocked_id = row[10], row[11], row[12]
        wanted = {key for key in (("crontab", crontab_id), ("interval", interval_id), ("clocked", clocked_id))
                  if key[1] and key not in self._rules}
        if wanted:
            self._rules.update(be.load_rules(wanted))

    # --- noticing changes ------------------------------------------------------------

    def _poll_changes(self, now: int) -> None:
        if now < self._next_poll:
            return
        self._next_poll = now + int(self.poll_every_s * US)
        self._drop_connection(only_if_obsolete=True)
        stamp = PeriodicTasks.last_change()
        if stamp != self._seen_stamp:
            self._seen_stamp = stamp
            self._settle_until = now + int(self.settle_s * US)
        if stamp is not None:
            # Rows changed well before the latest change have been read by earlier polls;
            # a steady stream of changes must not make each read longer than the last.
            self._since = max(self._since, stamp - timedelta(seconds=self.settle_s + self.margin_s))
        if now <= self._settle_until:
            self._apply_changes(now)

    def _apply_changes(self, now: int) -> None:
        # Stamps first, full rows only where they differ: the margin makes every read see
        # the last seconds' changes again, which must stay cheap after a bulk update.
        recent = PeriodicTask.objects.filter(date_changed__gte=self._since).values_list("id", "date_changed", "enabled")
        changed = {pk for pk, stamp, enabled in recent if (pk in self._known) != enabled
                   or (enabled and self._known[pk] != to_us(stamp))}
        self._reload(changed, now)
        if PeriodicTask.objects.filter(enabled=True).count() != len(self._known):
            self._reconcile(dict(PeriodicTask.objects.filter(enabled=True).values_list("id", "date_changed")), now)

    def _reconcile(self, current: dict[int, datetime], now: int) -> None:
        """Make beat match the enabled rows given as {id: date_changed}: drop, add, reload."""
        for pk in [pk for pk in self._known if pk not in current]:
            self._remove(pk)
        self._reload({pk for pk, stamp in current.items() if self._known.get(pk) != to_us(stamp)}, now)

    def _reload(self, pks: set[int], now: int) -> None:
        for chunk in _chunks(sorted(pks), 500):
            seen = set()
            for row in be.rows(PeriodicTask.objects.filter(pk__in=chunk)):
                seen.add(row[0])
                self._upsert(row, now)
            for pk in set(chunk) - seen:  # deleted between the two reads
                self._remove(pk)

    def _maybe_reconcile(self, now: int) -> None:
        """Every few minutes, when nothing is due for a second: compare everything, cheaply."""
        if now < self._next_reconcile:
            return
        idle = not self._queue or self._queue[0][0] - now > US
        if not idle and now < self._next_reconcile + int(self.reconcile_every_s * US):
            return
        self._next_reconcile = now + int(self.reconcile_every_s * US)
        self._refresh_rules(now)
        self._reconcile(dict(PeriodicTask.objects.filter(enabled=True).values_list("id", "date_changed")), now)

    def _refresh_rules(self, now: int) -> None:
        """Pick up edits of shared schedule rows (a CrontabSchedule edited in the admin)."""
        fresh = be.load_rules()
        moved = {key for key, rule in fresh.items()
                 if key in self._rules and self._rules[key].signature != rule.signature}
        self._rules.update({key: rule for key, rule in fresh.items() if key in moved or key not in self._rules})
        if moved:
            for entry in list(self.entries.values()):
                if entry.rule.key in moved:
                    entry.rule = self._rules[entry.rule.key]
                    entry.due_us = None
                    self._plan(entry, now, now)  # the edit's time is unknown: from now on

    # --- sending ------------------------------------------------------------------------

    def _send_due(self, now: int) -> int:
        batch, queue = [], self._queue
        missed_before = now - int(self.misfire_grace_s * US)
        while queue and queue[0][0] <= now:
            due, _, entry = heapq.heappop(queue)
            if self.entries.get(entry.id) is not entry or entry.due_us != due:
                continue  # edited, removed or rescheduled since it was queued
            if due < missed_before:
                # Beat itself stalled (suspended, starved): the misfire policy decides.
                entry.due_us = None
                self._plan(entry, due - 1, now)
                continue
            batch.append((entry, due))
            self._enqueue(entry, None if entry.one_off else entry.next_after(due))
        batch, self._pending = self._pending + batch, []
        if not batch:
            return 0
        batch.sort(key=lambda item: item[1])
        started = time.perf_counter()
        recorder = pending.BurstRecorder()
        # A small first chunk: nothing hides its database statement, and the burst's first
        # messages wait for it; the later ones are written while the previous chunk is published.
        first = batch[:self.first_publish_batch]
        chunks = [first, *_chunks(batch[len(first):], self.publish_batch)]
        failures = recorder.record_then_publish([chunk for chunk in chunks if chunk], self._publish_entries)
        took_ms, waited_ms = (time.perf_counter() - started) * 1000, recorder.waited_s * 1000
        for (entry, due), error in zip(batch, failures):
            if error is not None:  # one bad task must not stop the others
                log.error("beat: could not send %s (%s) due at %s: %r", entry.name, entry.task, from_us(due), error)
                continue
            entry.last_us = _latest(entry.last_us, due)
            self._marks.append((entry.id, due, entry.one_off))
            if entry.one_off:
                self._remove(entry.id)  # written as disabled by sync(), as django-celery-beat does
        late_ms = (self.now_us() - batch[0][1]) / 1000
        log.info("beat: sent %d due task(s); the earliest was due %.0f ms ago (%.0f ms: waiting for the pending runs "
                 "and policies %.0f ms, publishing %.0f ms)", len(batch), late_ms, took_ms, waited_ms, took_ms - waited_ms)
        return len(batch)

    def _message(self, entry: Entry, due: int) -> tuple[str, tuple, dict, dict]:
        """(task, args, kwargs, options) for one occurrence of an entry."""
        if entry.chrono_id is None:
            args, kwargs, options = entry.extra
            return entry.task, args, kwargs, {**options, "headers": dict(options.get("headers", {}))}
        kwargs = {"chrono_id": entry.chrono_id, "scheduled_for": from_us(due).isoformat()}
        options = {"headers": {"periodic_task_name": entry.name}}
        expiry = be.message_expiry(entry.policy, due, entry.next_after(due))
        if expiry is not None:
            options["expires"] = from_us(expiry)
        return entry.task, (), kwargs, options

    def _publish_entries(self, chunk: list[tuple[Entry, int]]) -> list[Exception | None]:
        """Publish one chunk's occurrences in order (once their policies are read, for the
        expiry); the error of each one that failed, else None.

        Sequential on purpose: publishing is CPU-bound in Celery and kombu, and threads
        measured slower on a 2-core machine (GIL and broker round trips compete). To the
        broker, a chunk of ``publish_batch`` is one Redis pipeline instead of a round trip
        per message, which on a busy machine was most of a burst's time.
        """
        return self._publish_chunk([self._message(entry, due) for entry, due in chunk])

    def _publish_chunk(self, chunk: list[tuple]) -> list[Exception | None]:
        batch = self._broker_batch(len(chunk))
        if batch is None:
            return [self._publish_one(message) for message in chunk]
        try:
            with batch:
                errors = [self._publish_one(message) for message in chunk]
        except Exception as exc:
            # The pipeline failed: which of these reached Redis is unknown. Send them one by
            # one (with Celery's retries): a message that did arrive twice finds its run
            # already claimed, and each still has its pending row for the reaper.
            log.warning("beat: publishing a batch of %d failed (%r); sending them one by one", len(chunk), exc)
            return [self._publish_one(message) for message in chunk]
        return errors

    def _broker_batch(self, size: int):
        """A batch that sends ``size`` messages together (automations.beat.messages) when
        publishing to the broker, else None."""
        if self.publish != self._publish_to_broker:
            return None
        return self._messages.batch(self.producer, size)

    def _publish_one(self, message: tuple) -> Exception | None:
        try:
            self.publish(*message)
        except Exception as exc:
            return exc
        return None

    def _publish_to_broker(self, task_name: str, args, kwargs: dict, options: dict):
        options["headers"]["celery_beat_task"] = True
        task = self._task(task_name)
        if task is None:
            return self.app.send_task(task_name, args, kwargs, producer=self.producer, **options)
        # The same message as apply_async's, at a fraction of its cost (automations.beat.messages).
        sent = self._messages.send(self.producer, task, args, kwargs, options)
        if sent is NOT_HANDLED:
            return task.apply_async(args, kwargs, producer=self.producer, **options)
        return sent

    def _task(self, name: str):
        """The registered task ``name``, or None. Beat does not import the apps' tasks.py by
        itself; they are loaded (once) when a task is not registered yet."""
        task = self.app.tasks.get(name)
        if task is None and name not in self._unregistered:
            self.app.loader.import_default_modules()
            task = self.app.tasks.get(name)
            if task is None:
                self._unregistered.add(name)  # sent by name, as django-celery-beat does
        return task

    def _sleep_for(self, now: int) -> float:
        if self._pending or not self._loaded:
            return 0.0
        if not self._queue:
            return self.max_interval
        return min(max((self._queue[0][0] - now) / US, 0.0), self.max_interval)

    def _drop_connection(self, only_if_obsolete: bool = False) -> None:
        if connection.in_atomic_block:
            return  # inside a test's transaction: leave the connection alone
        if only_if_obsolete:
            close_old_connections()
        else:
            connection.close()


def _lower_bound(entry: Entry, sent_us: int | None = None) -> int:
    """Since when a (re)loaded entry may have missed occurrences.

    Recurring: since it was last sent or last edited, whichever is later (an edit does not
    make the old schedule's past occurrences "missed"). One-shot: since it was last sent,
    so a one-shot whose instant passed before it was saved (typed as "now") still runs.
    """
    sent = _latest(sent_us, entry.last_us) or None
    if isinstance(entry.rule, be.OnceRule):
        return sent or 0
    return _latest(sent, entry.changed_us)


def _latest(*values: int | None) -> int:
    present = [v for v in values if v is not None]
    return max(present) if present else 0


def _same_schedule(old: Entry, new: Entry) -> bool:
    return (old.rule is new.rule and old.anchor_us == new.anchor_us and old.start_us == new.start_us
            and old.end_us == new.end_us and old.one_off == new.one_off)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _write_marks(marks: list[tuple[int, int, bool]]) -> None:
    """One UPDATE per distinct occurrence instant: a whole minute's burst is a single statement."""
    latest: dict[int, int] = {}
    one_offs: set[int] = set()
    for pk, due, one_off in marks:
        latest[pk] = max(latest.get(pk, due), due)
        if one_off:
            one_offs.add(pk)
    by_due: dict[int, list[int]] = defaultdict(list)
    for pk, due in latest.items():
        by_due[due].append(pk)
    for due, pks in by_due.items():
        for chunk in _chunks(pks, 500):
            PeriodicTask.objects.filter(pk__in=chunk).update(
                last_run_at=from_us(due), total_run_count=F("total_run_count") + 1)
    for chunk in _chunks(sorted(one_offs), 500):
        PeriodicTask.objects.filter(pk__in=chunk).update(enabled=False)
