"""PeriodicTask rows as compact beat entries, and when each one fires.

ChronoScheduler keeps one small `Entry` per enabled PeriodicTask and a heap of
(next fire, entry). Times are whole microseconds since the epoch (UTC) so that two beats
computing the same occurrence get the same `scheduled_for`, exactly.

Fire times come from the shared schedule rows (CrontabSchedule / IntervalSchedule /
ClockedSchedule), each turned into one `Rule` object that every task using that row
shares; crontab rules use automations.schedule, so beat and the admin's "next fire times"
agree, DST included.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

from automations import schedule as sched
from automations.beat.sync import PREFIX, TASK

log = logging.getLogger(__name__)

US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# How many crontab fire times one computation caches: one walk serves a whole burst.
CRON_AHEAD = 8
# Catch-up never sends more than this many missed occurrences of one task at once.
MAX_CATCH_UP = 1000
# Occurrences beat drops by the misfire policy are recorded as skipped runs, this many per
# chrono and reload at most: a week-long outage must not write a row per minute per chrono.
MAX_DROPPED_ROWS = 100

SKIP, RUN_ONCE, CATCH_UP = "skip", "run_once", "catch_up"
DEFAULT_POLICY = (RUN_ONCE, 3600)


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# --------------------------------------------------------------------------- rules

class CronRule:
    """A CrontabSchedule row: fire times by automations.schedule, a few cached ahead."""

    __slots__ = ("key", "signature", "schedule", "zone", "_from", "_times")

    def __init__(self, key: tuple, expression: str, zone: str) -> None:
        self.key, self.signature = key, (expression, zone)
        # Not from_normalised: its validation walk costs more than the cached walks below,
        # and a bad expression still fails (once, logged) on first use.
        self.schedule = sched.Schedule("cron", expression.lower())
        self.zone = zone
        self._from, self._times = None, []

    def next_after(self, us: int, anchor_us: int | None = None) -> int | None:
        # The cache holds every fire time in (_from, _times[-1]]; outside it, walk again.
        if self._from is not None and self._from <= us:
            i = bisect_right(self._times, us)
            if i < len(self._times):
                return self._times[i]
        try:
            times = sched.next_fire_times(self.schedule, self.zone, from_us(us), CRON_AHEAD)
        except Exception as exc:  # croniter's errors are many kinds; the task just never fires
            if self._from != -1:
                log.error("crontab %s (%s) cannot be scheduled: %s", self.key[1], self.signature, exc)
            self._from, self._times = -1, []
            return None
        self._from, self._times = us, [to_us(t) for t in times]
        return self._times[0] if self._times else None


class IntervalRule:
    """An IntervalSchedule row: every `every_us`, counted from each task's own anchor."""

    __slots__ = ("key", "signature", "every_us")

    def __init__(self, key: tuple, every_us: int) -> None:
        self.key, self.signature, self.every_us = key, every_us, max(every_us, 1)

    def next_after(self, us: int, anchor_us: int | None = None) -> int | None:
        anchor = us if anchor_us is None else anchor_us
        # Same arithmetic as schedule.next_fire_times: anchor + k*every, k >= 0, after `us`.
        k = max(0, (us - anchor) // self.every_us + 1)
        return anchor + k * self.every_us


class OnceRule:
    """A ClockedSchedule row: one instant."""

    __slots__ = ("key", "signature", "at_us")

    def __init__(self, key: tuple, at_us: int) -> None:
        self.key, self.signature, self.at_us = key, at_us, at_us

    def next_after(self, us: int, anchor_us: int | None = None) -> int | None:
        return self.at_us if self.at_us > us else None


_PERIOD_US = {
    IntervalSchedule.DAYS: 86400 * US, IntervalSchedule.HOURS: 3600 * US,
    IntervalSchedule.MINUTES: 60 * US, IntervalSchedule.SECONDS: US,
    IntervalSchedule.MICROSECONDS: 1,
}


def load_rules(keys: set[tuple] | None = None) -> dict[tuple, object]:
    """Rules keyed ("crontab"|"interval"|"clocked", id): the ones named, or all that enabled tasks use."""
    in_use = PeriodicTask.objects.filter(enabled=True)

    def pick(kind: str, model):
        if keys is None:
            return model.objects.filter(pk__in=in_use.filter(**{f"{kind}__isnull": False}).values(f"{kind}_id"))
        return model.objects.filter(pk__in=[pk for k, pk in keys if k == kind])

    rules: dict[tuple, object] = {}
    for row in pick("crontab", CrontabSchedule):
        expression = f"{row.minute} {row.hour} {row.day_of_month} {row.month_of_year} {row.day_of_week}"
        rules[("crontab", row.pk)] = CronRule(("crontab", row.pk), expression, str(row.timezone))
    for pk, every, period in pick("interval", IntervalSchedule).values_list("pk", "every", "period"):
        rules[("interval", pk)] = IntervalRule(("interval", pk), every * _PERIOD_US.get(period, US))
    for pk, at in pick("clocked", ClockedSchedule).values_list("pk", "clocked_time"):
        rules[("clocked", pk)] = OnceRule(("clocked", pk), to_us(at))
    return rules


# --------------------------------------------------------------------------- entries

class Entry:
    """One enabled PeriodicTask, as little as beat needs to send it."""

    __slots__ = ("id", "name", "task", "chrono_id", "rule", "anchor_us", "changed_us", "last_us",
                 "due_us", "one_off", "start_us", "end_us", "policy", "extra")

    def next_after(self, us: int) -> int | None:
        """The first fire time after `us` inside the task's start/expiry window."""
        if self.start_us is not None and us < self.start_us:
            us = self.start_us - 1
        due = self.rule.next_after(us, self.anchor_us)
        if due is None or (self.end_us is not None and due >= self.end_us):
            return None
        return due

    def occurrences(self, after_us: int, until_us: int, limit: int = MAX_CATCH_UP) -> list[int]:
        """Fire times in (after_us, until_us], the latest `limit` of them."""
        return self.counted_occurrences(after_us, until_us, limit)[0]

    def counted_occurrences(self, after_us: int, until_us: int, limit: int = MAX_CATCH_UP) -> tuple[list[int], int]:
        """The latest `limit` fire times in (after_us, until_us], and how many there are in all."""
        found: list[int] = []
        total = 0
        due = self.next_after(after_us)
        while due is not None and due <= until_us:
            found.append(due)
            total += 1
            if len(found) > 2 * limit:  # bound the memory of the walk on tiny intervals
                found = found[-limit:]
            due = self.next_after(due)
        return found[-limit:], total


ROW_FIELDS = (
    "id", "name", "task", "enabled", "one_off", "start_time", "expires", "expire_seconds",
    "last_run_at", "date_changed", "crontab_id", "interval_id", "clocked_id", "solar_id",
    "args", "kwargs", "queue", "exchange", "routing_key", "priority", "headers",
    "chrono__created_at", "chrono__misfire_policy", "chrono__catchup_window_s",
)


def rows(queryset=None, chunk_size: int = 5000) -> Iterator[tuple]:
    """PeriodicTask rows as tuples in ROW_FIELDS order, streamed (a server-side cursor on PostgreSQL)."""
    queryset = PeriodicTask.objects.all() if queryset is None else queryset
    return queryset.order_by().values_list(*ROW_FIELDS).iterator(chunk_size=chunk_size)


def build_entry(row: tuple, rules: dict[tuple, object]) -> Entry | None:
    """An Entry for an enabled, schedulable row; None (with a log line) for anything else."""
    (pk, name, task, enabled, one_off, start_time, expires, expire_seconds, last_run_at, date_changed,
     crontab_id, interval_id, clocked_id, solar_id, args, kwargs, queue, exchange, routing_key,
     priority, headers, chrono_created, misfire_policy, catchup_window_s) = row
    if not enabled:
        return None
    rule = _rule_for(rules, crontab_id, interval_id, clocked_id)
    if rule is None:
        kind = "solar" if solar_id else "missing"
        log.warning("periodic task %r has a %s schedule that ChronoScheduler does not run", name, kind)
        return None
    entry = Entry()
    entry.id, entry.name, entry.task, entry.rule = pk, name, task, rule
    entry.chrono_id = int(name[len(PREFIX):]) if task == TASK and name.startswith(PREFIX) else None
    entry.changed_us = to_us(date_changed) if date_changed else 0
    entry.last_us = to_us(last_run_at) if last_run_at else None
    entry.due_us = None
    entry.one_off = one_off or isinstance(rule, OnceRule)
    entry.start_us = to_us(start_time) if start_time else None
    entry.end_us = to_us(expires) if expires else None
    entry.anchor_us = _anchor(rule, chrono_created, start_time, date_changed)
    entry.policy = (misfire_policy, catchup_window_s) if misfire_policy else DEFAULT_POLICY
    entry.extra = None if entry.chrono_id else _plain_task_call(args, kwargs, queue, exchange, routing_key,
                                                               priority, headers, expire_seconds, name)
    return entry


def _rule_for(rules: dict, crontab_id, interval_id, clocked_id):
    if crontab_id:
        return rules.get(("crontab", crontab_id))
    if interval_id:
        return rules.get(("interval", interval_id))
    if clocked_id:
        return rules.get(("clocked", clocked_id))
    return None


def _anchor(rule, chrono_created: datetime | None, start_time: datetime | None,
            date_changed: datetime | None) -> int | None:
    """Where an interval counts from: the chrono's creation (as its admin preview does), else the task's start."""
    if not isinstance(rule, IntervalRule):
        return None
    moment = chrono_created or start_time or date_changed
    # Rounded down to the second, as schedule.next_fire_times does: the same fire times, none with microseconds.
    return to_us(moment) // US * US if moment else None


def _plain_task_call(args, kwargs, queue, exchange, routing_key, priority, headers, expire_seconds,
                     name) -> tuple[list, dict, dict]:
    """(args, kwargs, options) of a PeriodicTask that is not a chrono, as django-celery-beat sends it."""
    try:
        call_args, call_kwargs = json.loads(args or "[]"), json.loads(kwargs or "{}")
        extra_headers = json.loads(headers or "{}")
    except ValueError as exc:
        log.error("periodic task %r has arguments that are not JSON (%s); sending it without them", name, exc)
        call_args, call_kwargs, extra_headers = [], {}, {}
    options = {key: value for key, value in (("queue", queue), ("exchange", exchange),
                                             ("routing_key", routing_key), ("priority", priority))
               if value is not None}
    if expire_seconds:
        options["expires"] = expire_seconds
    options["headers"] = {**extra_headers, "periodic_task_name": name}
    return call_args, call_kwargs, options


# --------------------------------------------------------------------------- misfires

class Plan(NamedTuple):
    """What beat does with an entry (re)loaded at some instant."""

    sends: list[int]  # occurrences to send now
    dropped: list[tuple[int, str]]  # (occurrence, reason) the misfire policy drops, at most MAX_DROPPED_ROWS
    next_due: int | None  # the next fire time after now


def plan(entry: Entry, lower_us: int, now_us: int, grace_us: int, max_dropped: int = MAX_DROPPED_ROWS) -> Plan:
    """What to send now for an entry (re)loaded at `now_us`, what to drop, and its next fire time.

    Occurrences in (lower_us, now_us - grace] were missed (beat was down or the task was
    just edited): the entry's misfire policy picks which of them to send; the others are
    dropped, each with its reason. Occurrences in the last `grace` seconds are merely late
    and always sent. At most `max_dropped` dropped ones are listed, the newest counting the rest.
    """
    missed_until = now_us - grace_us
    missed, total = entry.counted_occurrences(lower_us, missed_until) if lower_us < missed_until else ([], 0)
    late = entry.occurrences(max(lower_us, missed_until), now_us)
    kept = choose_missed(entry.policy, missed, now_us)
    kept_set = set(kept)
    dropped = [due for due in missed if due not in kept_set]
    # Missed occurrences older than the walk kept were dropped too, whatever the policy.
    unlisted = total - len(missed)
    return Plan(kept + late, drop_reasons(entry.policy, dropped, unlisted, kept, max_dropped), entry.next_after(now_us))


def drop_reasons(policy: tuple[str, int], dropped: list[int], unlisted: int, kept: list[int],
                 limit: int = MAX_DROPPED_ROWS) -> list[tuple[int, str]]:
    """(occurrence, reason) for the latest `limit` dropped ones; the newest says how many more."""
    if not dropped:
        return []
    kind, window_s = policy
    if kind == SKIP:
        reason = "Skipped: missed while beat was not sending (misfire policy: skip)."
    elif kind == CATCH_UP:
        reason = (f"Skipped: missed while beat was not sending, and older than the catch-up window of "
                  f"{window_s}s (misfire policy: catch up).")
    else:
        latest = from_us(kept[-1]).isoformat() if kept else "the latest"
        reason = (f"Skipped: missed while beat was not sending; only the latest missed occurrence ({latest}) "
                  "runs (misfire policy: run once).")
    rows = [(due, reason) for due in dropped[-max(limit, 1):]]
    more = len(dropped) - len(rows) + unlisted
    if more:
        due, text = rows[-1]
        rows[-1] = (due, f"{text} {more} earlier missed occurrence(s) were skipped too, without a row each.")
    return rows


def choose_missed(policy: tuple[str, int], missed: list[int], now_us: int) -> list[int]:
    """skip: none; run_once: the latest; catch_up: each one inside the catch-up window."""
    kind, window_s = policy
    if not missed or kind == SKIP:
        return []
    if kind == CATCH_UP:
        return [due for due in missed if due >= now_us - window_s * US]
    return missed[-1:]


def message_expiry(policy: tuple[str, int], due_us: int, next_us: int | None) -> int | None:
    """When a sent occurrence stops being worth running, if the workers are down until then.

    The same policy as for beat's own misfires, applied in the queue: skip lets a message
    wait a minute at most; run_once until the next occurrence supersedes it; catch_up for
    the catch-up window.
    """
    kind, window_s = policy
    if kind == SKIP:
        return min(due_us + 60 * US, next_us) if next_us else due_us + 60 * US
    if kind == CATCH_UP:
        return due_us + max(window_s, 1) * US
    return next_us


def expiry_reason(policy: tuple[str, int], due_us: int, next_us: int | None, now_us: int) -> str | None:
    """Why an occurrence not started by `now_us` is no longer worth running (message_expiry), else None."""
    expiry = message_expiry(policy, due_us, next_us)
    if expiry is None or now_us < expiry:
        return None
    kind, window_s = policy
    if kind == CATCH_UP:
        return (f"Skipped: not started within the catch-up window of {max(window_s, 1)}s after its time "
                "(misfire policy: catch up).")
    if kind == SKIP and (next_us is None or expiry < next_us):
        return "Skipped: not started within a minute of its time (misfire policy: skip)."
    policy_name = "skip" if kind == SKIP else "run once"
    return (f"Skipped: not started before the next occurrence ({from_us(next_us).isoformat()}) came due "
            f"(misfire policy: {policy_name}).")
