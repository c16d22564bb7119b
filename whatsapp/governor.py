"""The send governor's decisions: when may this channel send its next message, and how.

Pure functions over plain values (limits, the times of earlier sends, ``now``), so tests
need no clock tricks and no database; ``whatsapp/outbox.py`` loads those values from the
rows and acts on the answers. Why each rule exists: ../shared/waha/README.md §5.6-§5.7
(WAHA's "how to avoid blocking") and complaint 7 (bans, warm-up, the 463 reachout lock).

A channel picks a named profile (``careful`` / ``normal`` / ``fast``) and may override any
of its values (``Channel.send_limits``). A channel without a profile is not governed: it
sends at once, as before the governor existed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    """Everything a profile sets. Rates count sends in rolling windows; 0 means no limit."""

    per_minute: int = 0
    per_hour: int = 0
    per_day: int = 0
    new_per_hour: int = 0  # first contacts: nobody wrote from that chat in the last 24 h
    new_per_day: int = 0
    min_gap_s: float = 0.0  # between any two sends of the channel (replies)
    new_min_gap_s: float = 0.0  # before a send to a new contact
    jitter_s: float = 0.0  # a random 0..jitter_s added to each gap
    warmup_days: int = 0  # the daily caps grow linearly over a new number's first days
    typing_s_per_char: float = 0.0  # "typing" lasts this per character of the text ...
    typing_min_s: float = 0.0
    typing_max_s: float = 0.0  # ... capped; 0: no typing indicator at all
    window_start: str = ""  # "08:00": quiet hours outside [start, end) in the recipient's zone
    window_end: str = ""
    window_days: str = "1234567"  # ISO weekdays the window opens on (1 = Monday)
    pause_after_failures: int = 0  # that many failed sends in a row pause outreach; 0: never
    cooldown_h: float = 0.0  # outreach resumes on its own after this long; 0: only by hand


PROFILES: dict[str, Limits] = {
    # WAHA's guide: 30-60 s between new contacts, small packages, office hours, a slow start.
    "careful": Limits(per_minute=4, per_hour=60, per_day=300, new_per_hour=10, new_per_day=40, min_gap_s=8,
                      new_min_gap_s=30, jitter_s=30, warmup_days=14, typing_s_per_char=0.05, typing_min_s=2,
                      typing_max_s=12, window_start="08:00", window_end="20:00", window_days="12345",
                      pause_after_failures=3, cooldown_h=0),
    "normal": Limits(per_minute=10, per_hour=200, per_day=1000, new_per_hour=30, new_per_day=150, min_gap_s=4,
                     new_min_gap_s=15, jitter_s=15, warmup_days=7, typing_s_per_char=0.04, typing_min_s=1,
                     typing_max_s=8, window_start="08:00", window_end="20:00", window_days="123456",
                     pause_after_failures=5, cooldown_h=24),
    "fast": Limits(per_minute=30, per_hour=600, per_day=3000, new_per_hour=100, new_per_day=500, min_gap_s=1,
                   new_min_gap_s=4, jitter_s=4, warmup_days=0, typing_s_per_char=0.02, typing_min_s=0.5,
                   typing_max_s=4, window_start="07:00", window_end="22:00", window_days="1234567",
                   pause_after_failures=10, cooldown_h=6),
}
FIELD_TYPES = {f.name: f.type for f in fields(Limits)}


class BadLimits(ValueError):
    """A profile name or override that makes no sense; the text names the key."""


def limits_for(profile: str, overrides: dict | None = None) -> Limits | None:
    """The profile's limits with ``overrides`` applied; None for no profile (not governed)."""
    if not profile:
        return None
    if profile not in PROFILES:
        raise BadLimits(f"send_profile: unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    return replace(PROFILES[profile], **clean_overrides(overrides or {}))


def clean_overrides(overrides: dict) -> dict:
    """The overrides converted to their types; BadLimits naming the first wrong key."""
    if not isinstance(overrides, dict):
        raise BadLimits("send_limits: must be an object of overrides, e.g. {\"per_minute\": 5}.")
    cleaned = {}
    for key, value in overrides.items():
        kind = FIELD_TYPES.get(key)
        if kind is None:
            raise BadLimits(f"send_limits.{key}: unknown setting; known: {', '.join(FIELD_TYPES)}.")
        cleaned[key] = _typed(key, kind, value)
    return cleaned


def _typed(key: str, kind: str, value: object):
    try:
        if kind == "str":
            return _checked_text(key, str(value))
        number = float(value) if kind == "float" else int(value)
    except (TypeError, ValueError):
        raise BadLimits(f"send_limits.{key}: expected a {kind}, got {value!r}.") from None
    if number < 0:
        raise BadLimits(f"send_limits.{key}: must not be negative.")
    return number


def _checked_text(key: str, value: str) -> str:
    if key.startswith("window_") and key != "window_days" and value and not re.fullmatch(r"\d\d:\d\d", value):
        raise BadLimits(f"send_limits.{key}: write the time as HH:MM, e.g. 08:00.")
    if key == "window_days" and not re.fullmatch(r"[1-7]*", value):
        raise BadLimits(f"send_limits.{key}: ISO weekdays as digits, e.g. 12345 for Monday to Friday.")
    return value


def as_dict(limits: Limits) -> dict:
    return asdict(limits)


# --- rates and gaps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One earlier send of the channel: when, and whether it was to a new contact."""

    at: datetime
    new: bool = False


def daily_cap(cap: int, age_days: float, warmup_days: int) -> int:
    """A daily cap during warm-up: day 1 allows cap/warmup_days, growing to cap on the last day."""
    if not cap or not warmup_days or age_days >= warmup_days:
        return cap
    return max(1, int(cap * (int(age_days) + 1) / warmup_days))


def unpaced(limits: Limits) -> bool:
    """No rate, gap or send window: every send may go at once (the governor has nothing to say)."""
    return not (limits.per_minute or limits.per_hour or limits.per_day or limits.new_per_hour or limits.new_per_day
                or limits.min_gap_s or limits.new_min_gap_s or limits.jitter_s
                or (limits.window_start and limits.window_end))


def earliest(limits: Limits, history: list[Sent], now: datetime, new: bool, jitter: float,
             age_days: float = 365.0) -> datetime:
    """The earliest instant at or after ``now`` the rates and the gap allow one more send.

    ``history`` is the channel's sends of the last 24 h (any order); ``new`` whether this
    send is a first contact; ``jitter`` a number in [0, 1) drawn once per message, so the
    answer is the same each time the same message is asked about.
    """
    times = sorted(s.at for s in history)
    new_times = sorted(s.at for s in history if s.new)
    rules = [(times, MINUTE, limits.per_minute), (times, HOUR, limits.per_hour),
             (times, DAY, daily_cap(limits.per_day, age_days, limits.warmup_days))]
    if new:
        rules += [(new_times, HOUR, limits.new_per_hour),
                  (new_times, DAY, daily_cap(limits.new_per_day, age_days, limits.warmup_days))]
    slot = now
    if times:
        gap = (limits.new_min_gap_s if new else limits.min_gap_s) + jitter * limits.jitter_s
        slot = max(slot, times[-1] + timedelta(seconds=gap))
    for _ in range(len(rules) + 1):  # moving past one window may enter another's: settle
        moved = max((_window_free(ts, window, cap, slot) for ts, window, cap in rules), default=slot)
        if moved <= slot:
            return slot
        slot = moved
    return slot


def _window_free(times: list[datetime], window: timedelta, cap: int, at: datetime) -> datetime:
    """When a rolling ``window`` holding at most ``cap`` sends has room again, from ``at`` on."""
    if not cap:
        return at
    inside = [t for t in times if at - window < t <= at]
    if len(inside) < cap:
        return at
    return inside[len(inside) - cap] + window  # the oldest send that must leave the window


def typing_seconds(limits: Limits, text: str) -> float:
    """How long to show "typing…" before sending ``text``: grows with its length, capped."""
    if not limits.typing_max_s:
        return 0.0
    return min(limits.typing_max_s, max(limits.typing_min_s, len(text) * limits.typing_s_per_char))


# --- send windows ---------------------------------------------------------------------------


def in_window(limits: Limits, at: datetime, zone: str) -> datetime:
    """``at`` if it falls inside the send window in ``zone``, else when the next window opens.

    Worked out on the local calendar and turned back into an aware instant by zoneinfo,
    so 08:00 stays 08:00 local across a DST change.
    """
    if not limits.window_start or not limits.window_end or not limits.window_days:
        return at
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    start, end = _hhmm(limits.window_start), _hhmm(limits.window_end)
    if _open_day(limits, local.date()) and start <= local.time() < end:
        return at
    for days_ahead in range(0, 8):
        day = local.date() + timedelta(days=days_ahead)
        if not _open_day(limits, day) or (days_ahead == 0 and local.time() >= start):
            continue
        return datetime.combine(day, start, tzinfo=tz).astimezone(at.tzinfo)
    return at  # no open day at all cannot happen: window_days is not empty


def _open_day(limits: Limits, day) -> bool:
    return str(day.isoweekday()) in limits.window_days


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def next_slot(limits: Limits, history: list[Sent], now: datetime, new: bool, jitter: float, zone: str,
              age_days: float = 365.0, paused_until: datetime | None = None, paused: bool = False) -> datetime | None:
    """When the next send may go: rates, gap, then (first contacts) the recipient's send window.

    A reply to someone who just wrote is not held to office hours: answering at once is
    what a person does. A send to a new contact while outreach is paused waits for
    ``paused_until`` (the cool-down), or has no slot at all (None) when only an operator
    can resume.
    """
    if new and paused:
        if paused_until is None:
            return None
        now = max(now, paused_until)
    slot = earliest(limits, history, now, new, jitter, age_days)
    if not new:
        return slot
    for _ in range(3):  # the window may open on a day whose rates are still full: settle
        opened = in_window(limits, slot, zone)
        if opened == slot:
            return slot
        slot = earliest(limits, history, opened, new, jitter, age_days)
    return slot
