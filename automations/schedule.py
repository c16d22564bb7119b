"""Schedules of chronos: parse what an operator types, compute when it fires, describe it.

Pure functions: no ORM, no settings. Every "now" is an argument, so callers and tests
choose the clock. Fire times are computed in the chrono's timezone and returned in UTC.

DST follows Vixie cron's rules (cron.c, the "time has changed" cases), applied to the
wall time of the chrono's timezone:

* Spring forward (a gap): a *fixed-time* job whose time falls in the skipped hour runs
  once, at the first valid instant after the gap -- Vixie runs the fixed-time jobs of the
  skipped minutes as soon as it wakes after the jump. "30 2 * * *" in Europe/Berlin on
  2026-03-29 fires at 03:00 CEST (01:00 UTC). Several skipped matches collapse into that
  one instant. *Wildcard* jobs simply have no run at the missing wall times; they keep
  following real elapsed time.
* Fall back (an overlap): a fixed-time job runs once, at the first occurrence (the
  summer-time one). Wildcard jobs run in both passes of the repeated hour.
* "Wildcard" is Vixie's own definition (flags MIN_STAR / HR_STAR): the minute or the hour
  field starts with "*". So "0 * * * *" and "*/15 * * * *" are wildcard jobs, while
  "30 2 * * *" and "0 1-3 * * *" are fixed-time jobs.

croniter 7.0.0 given an aware start gets the gap right but fires fixed-time jobs twice in
the overlap (02:30 CEST and 02:30 CET), so croniter only walks naive wall times here and
`_instants` maps each wall time to UTC with the rules above.

Absolute one-shots typed as wall time ("2026-03-29 02:30") use the fixed-time rule too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter
from django.utils.translation import gettext as _

from automations import schedule_words as words
from automations.schedule_words import ACCEPTED_FORMS

UTC = timezone.utc


class ScheduleError(ValueError):
    """A schedule the operator typed cannot be used; the message says why and what would work."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{problem}\n\n{ACCEPTED_FORMS}")


@dataclass(frozen=True)
class Schedule:
    kind: str  # "cron" | "interval" | "once" | "manual" (fires only when triggered)
    expression: str  # normalised cron, interval seconds, or run_at in ISO 8601 UTC
    run_at: datetime | None = None  # once only, aware, UTC

    @property
    def interval_seconds(self) -> int | None:
        return int(self.expression) if self.kind == "interval" else None

    @property
    def is_recurring(self) -> bool:
        return self.kind != "once"


# --------------------------------------------------------------------------- parsing

MANUAL = Schedule("manual", "")  # event-driven chronos: beat never fires them

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds", "seg", "segundo", "segundos"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "minuto", "minutos"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "hora", "horas"), 3600),
    **dict.fromkeys(("d", "day", "days", "dia", "dias"), 86400),
}
_UNITS = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_AMOUNT = rf"(?P<amount>\d+)\s*(?P<unit>{_UNITS})"
_RELATIVE = re.compile(rf"(?:in|em|daqui a|daqui|dentro de)\s+{_AMOUNT}")
_INTERVAL = re.compile(rf"(?:(?:every|a cada|cada)\s+)?{_AMOUNT}")
_HOURLY = re.compile(r"every hour|hourly|each hour|de hora em hora|a cada hora|toda hora")
_MANUAL = re.compile(r"manual|manually|on trigger|on demand|never|manualmente|sob demanda|nunca")

# Word boundary after each day set, so "todo dia" does not swallow "todo dia util".
_DAY_SETS = (
    (re.compile(r"(?:every |on )?weekdays?|(?:todos os |todo |nos )?(?:dias uteis|dia util)"
                r"|de segunda a sexta(?:-feira)?"), "1-5"),
    (re.compile(r"(?:every |on )?weekends?|(?:todos os |todo |nos |no )?(?:fins|fim) de semana"), "0,6"),
    (re.compile(r"daily|every day|each day|todos os dias|todo dia|todo o dia|diariamente"), "*"),
)
_WEEKDAY_NUMBERS = {
    **dict.fromkeys(("sunday", "sun", "domingo"), 0),
    **dict.fromkeys(("monday", "mon", "segunda"), 1),
    **dict.fromkeys(("tuesday", "tue", "tues", "terca"), 2),
    **dict.fromkeys(("wednesday", "wed", "quarta"), 3),
    **dict.fromkeys(("thursday", "thu", "thur", "thurs", "quinta"), 4),
    **dict.fromkeys(("friday", "fri", "sexta"), 5),
    **dict.fromkeys(("saturday", "sat", "sabado"), 6),
}
_WEEKDAY_NAMES = "|".join(sorted(_WEEKDAY_NUMBERS, key=len, reverse=True))
_DAY_PREFIX = r"(?:(?:every|on|todas as|todos os|toda|todo|as|aos|nas|nos)\s+)?"
_DAY_NAME = rf"(?:{_WEEKDAY_NAMES})s?(?:-feiras?)?"
# "toda segunda e quarta", "segunda, quarta e sexta", "every monday, wednesday and friday".
_WEEKDAY_LIST = re.compile(
    rf"{_DAY_PREFIX}{_DAY_NAME}(?:(?:\s*,\s*(?:and\s+|e\s+)?|\s+(?:and|e|&)\s+){_DAY_PREFIX}{_DAY_NAME})*"
)
_WEEKDAY_WORD = re.compile(rf"\b(?:{_WEEKDAY_NAMES})")
_AT = re.compile(r"\s+(?:at|as|ao|a|@)\s+")
# Parts of the day and the hours (24 h) each may name: "8 da noite" is 20h, "12 da noite" midnight.
# "3 da manhã" is 3h (as Brazilians say it); "12 da manhã" is ambiguous, so refused.
_DAY_PARTS = {
    **dict.fromkeys(("da madrugada", "de madrugada"), ("0h-5h", frozenset(range(0, 6)))),
    **dict.fromkeys(("da manha", "de manha", "in the morning"), ("1h-11h", frozenset(range(1, 12)))),
    **dict.fromkeys(("da tarde", "de tarde", "in the afternoon"), ("12h-19h", frozenset(range(12, 20)))),
    **dict.fromkeys(("da noite", "de noite", "in the evening", "at night"),
                    ("18h-0h", frozenset((*range(18, 24), 0)))),
}
_NAMED_TIMES = {"meio-dia": (12, 0), "meio dia": (12, 0), "noon": (12, 0), "midday": (12, 0),
                "meia-noite": (0, 0), "meia noite": (0, 0), "midnight": (0, 0)}
_TIME = re.compile(
    r"(?P<hour>\d{1,2})(?:(?::|h)(?P<minute>\d{2}))?\s*(?P<suffix>h|hs|horas?|am|pm|a\.m\.|p\.m\.)?"
    rf"(?:\s+(?P<part>{'|'.join(_DAY_PARTS)}))?"
)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}(?::?\d{2})?)?")
_DATE_AND_TIME = re.compile(
    r"(?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"|(?P<br_day>\d{1,2})/(?P<br_month>\d{1,2})/(?P<br_year>\d{4}))"
    r"(?:\s+(?:at|as|a|@))?\s+(?P<time>.+)"
)
_CRON_ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_CRON_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
               "sun", "mon", "tue", "wed", "thu", "fri", "sat", "l", "w"}


def parse(text: str, tz: str | tzinfo, now: datetime) -> Schedule:
    """Parse what an operator typed into a Schedule, or raise ScheduleError.

    Relative one-shots are `now` + delay; absolute wall times are read in `tz`; an ISO 8601
    time with an offset keeps that offset. `now` must be aware (any timezone).
    """
    zone = _zone(tz)
    _require_aware(now, "now")
    cleaned = _clean(text)
    if not cleaned:
        raise ScheduleError(_("The schedule is empty."))
    for reader in (_read_manual, _read_cron, _read_hourly, _read_relative, _read_interval,
                   _read_monthly, _read_calendar, _read_tomorrow, _read_iso, _read_date_and_time):
        schedule = reader(cleaned, zone, now)
        if schedule is not None:
            return schedule
    raise ScheduleError(_("Could not understand the schedule %(text)r.") % {"text": text.strip()})


def from_normalised(kind: str, expression: str, run_at: datetime | None) -> Schedule:
    """Rebuild a Schedule from the stored kind, normalised expression and run_at."""
    if kind == "cron":
        return _stored_cron(expression)
    if kind == "interval":
        if not expression.strip().isdigit():
            raise ScheduleError(f"The stored interval {expression!r} is not a number of seconds.")
        return _interval(int(expression))
    if kind == "once":
        moment = run_at or _fromisoformat(expression)
        if moment.tzinfo is None:
            raise ScheduleError(f"The stored one-shot time {expression!r} has no timezone.")
        return _once(moment)
    if kind == "manual":
        return MANUAL
    raise ScheduleError(f"Unknown schedule kind {kind!r}: expected cron, interval, once or manual.")


@lru_cache(maxsize=4096)
def _stored_cron(expression: str) -> Schedule:
    # Checked once per distinct expression: a list page rebuilds 50 schedules, mostly the same few.
    return _cron(expression.split())


def _clean(text: str) -> str:
    # Strip accents so "às", "terça" and "sábado" match the unaccented spellings too.
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


def _zone(tz: str | tzinfo) -> tzinfo:
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(_("Unknown timezone %(zone)r.") % {"zone": tz}) from None


def _require_aware(moment: datetime, name: str) -> None:
    # A programming error, not an operator's: plain ValueError, not ScheduleError.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def _cron(fields: list[str]) -> Schedule:
    expression = " ".join(fields)
    if len(fields) in (6, 7):
        raise ScheduleError(
            _("%(expression)r has %(count)d fields; only 5-field cron expressions (minute hour day-of-month month "
              "day-of-week) are accepted, without seconds or years.") % {"expression": expression, "count": len(fields)}
        )
    if len(fields) != 5:
        raise ScheduleError(_("%(expression)r is not a cron expression: cron needs exactly 5 fields.") % {"expression": expression})
    if re.search(r"[?#lw]", re.sub(r"[a-z]{3}", "", expression.lower())):
        raise ScheduleError(_("%(expression)r uses non-standard cron syntax (?, L, W or #).") % {"expression": expression})
    try:
        # croniter accepts 6 fields and a few extensions, so the checks above come first;
        # get_next also refuses expressions that never fire, like "0 0 31 2 *".
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(_("%(expression)r never fires (no such date).") % {"expression": expression}) from None
    except (CroniterError, TypeError, ValueError, KeyError) as exc:
        raise ScheduleError(_("%(expression)r is not a valid cron expression (%(error)s).") % {"expression": expression, "error": exc}) from None
    return Schedule("cron", expression.lower())


def _interval(seconds: int) -> Schedule:
    if seconds < 1:
        raise ScheduleError(_("An interval must be at least 1 second."))
    return Schedule("interval", str(seconds))


def _once(moment: datetime) -> Schedule:
    run_at = moment.astimezone(UTC)
    return Schedule("once", run_at.isoformat(), run_at)


def _fromisoformat(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise ScheduleError(_("%(text)r is not a valid date and time.") % {"text": text}) from None


def _looks_like_cron_field(token: str) -> bool:
    without_names = re.sub(r"[a-z]+", lambda m: "" if m.group() in _CRON_NAMES else "!", token)
    return re.fullmatch(r"[0-9*?/,\-#]*", without_names) is not None


# Portuguese day-of-week names an operator types in a cron field ("0 8 * * seg-sex").
_PT_CRON_DAYS = {"dom": "0", "seg": "1", "ter": "2", "qua": "3", "qui": "4", "sex": "5", "sab": "6"}
_PT_CRON_DAY = re.compile(r"\b(" + "|".join(_PT_CRON_DAYS) + r")\b")


def _read_cron(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    if text in _CRON_ALIASES:
        return _cron(_CRON_ALIASES[text].split())
    fields = text.split()
    if len(fields) in (5, 6):  # only the day-of-week field (the last) may hold day names
        fields[-1] = _PT_CRON_DAY.sub(lambda m: _PT_CRON_DAYS[m.group()], fields[-1])
    if len(fields) < 3 or not all(_looks_like_cron_field(f) for f in fields):
        return None
    if len(fields) == 6:
        return _seconds_first_cron(fields)
    return _cron(fields)


def _seconds_first_cron(fields: list[str]) -> Schedule:
    """The old NestJS system's 6-field cron (seconds first): its 5-field form when seconds are 0."""
    seconds, five = fields[0], _cron(fields[1:])  # a bad minute..weekday is refused first
    if seconds in _ZERO_SECONDS:
        return five
    raise ScheduleError(
        _("%(expression)r has 6 fields; only 5-field cron expressions (minute hour day-of-month month day-of-week) "
          "are accepted, without seconds or years. Chronos fire on the minute, and this one's seconds field is "
          "%(seconds)r: the 5-field equivalent is %(five)r (once, at second 0 of each matching minute).")
        % {"expression": " ".join(fields), "seconds": seconds, "five": five.expression}
    )


_ZERO_SECONDS = ("0", "00")


def _read_manual(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    return MANUAL if _MANUAL.fullmatch(text) else None


def _read_hourly(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    return Schedule("cron", "0 * * * *") if _HOURLY.fullmatch(text) else None


def _amount_seconds(match: re.Match) -> int:
    seconds = int(match["amount"]) * _UNIT_SECONDS[match["unit"]]
    if seconds < 1:
        raise ScheduleError(_("A delay or interval must be at least 1 second."))
    return seconds


def _read_relative(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    match = _RELATIVE.fullmatch(text)
    if match is None:
        return None
    return _once(now + timedelta(seconds=_amount_seconds(match)))


def _read_interval(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    match = _INTERVAL.fullmatch(text)
    return _interval(_amount_seconds(match)) if match else None


def _split_days(text: str) -> tuple[str, str] | None:
    """The cron day-of-week field a phrase starts with, and the rest of the phrase."""
    for pattern, day_of_week in _DAY_SETS:
        match = pattern.match(text)
        if match and text[match.end():match.end() + 1] in ("", " "):
            return day_of_week, text[match.end():]
    match = _WEEKDAY_LIST.match(text)
    if match and text[match.end():match.end() + 1] in ("", " "):
        # Longest names first in the alternation, so "saturday" is not read as "sat".
        numbers = sorted({_WEEKDAY_NUMBERS[name] for name in _WEEKDAY_WORD.findall(match.group())})
        return ",".join(map(str, numbers)), text[match.end():]
    return None


def _read_calendar(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    split = _split_days(text)
    if split is None:
        return None
    day_of_week, rest = split
    if rest and not _AT.match(rest):
        return None
    hour, minute = _time_after_days(text, rest)
    return Schedule("cron", f"{minute} {hour} * * {day_of_week}")


# Days of the month: "5", "5th", "1º" (NFKD turns "º" into "o"), listed as "1, 15 e 20".
_MONTH_DAY = r"\d{1,2}(?:st|nd|rd|th|o)?"
_LIST_SEPARATOR = r"(?:\s*,\s*(?:and\s+|e\s+)?|\s+(?:and|e|&)\s+)"
_MONTH_DAYS = rf"(?P<days>{_MONTH_DAY}(?:{_LIST_SEPARATOR}{_MONTH_DAY})*)"
_EACH_MONTH = r"(?:de\s+(?:cada|todo)\s+mes|of\s+(?:every|each|the)\s+month)"
_MONTHLY = tuple(re.compile(pattern + r"(?P<rest>.*)") for pattern in (
    rf"(?:todo|todos os|cada)\s+(?:mes|meses)\s+(?:no|nos|em)\s+dias?\s+{_MONTH_DAYS}",
    rf"mensalmente\s+(?:no|nos|em)\s+dias?\s+{_MONTH_DAYS}",
    rf"(?:todo|todos os)\s+dias?\s+{_MONTH_DAYS}(?:\s+{_EACH_MONTH})?",
    rf"(?:no|nos|dia|dias)\s+(?:dias?\s+)?{_MONTH_DAYS}\s+{_EACH_MONTH}",
    rf"(?:every|each)\s+month\s+on\s+(?:the\s+)?(?:day\s+)?{_MONTH_DAYS}",
    rf"monthly\s+on\s+(?:the\s+)?(?:day\s+)?{_MONTH_DAYS}",
    rf"(?:on\s+)?(?:the\s+)?(?:day\s+)?{_MONTH_DAYS}\s+{_EACH_MONTH}",
))


def _read_monthly(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    """'todo dia 5 às 9h', 'every month on the 5th at 9am' -> '0 9 5 * *'."""
    match = next((m for m in (p.fullmatch(text) for p in _MONTHLY) if m), None)
    if match is None or (match["rest"] and not _AT.match(match["rest"])):
        return None
    days = sorted({int(day) for day in re.findall(r"\d+", match["days"])})
    if not all(1 <= day <= 31 for day in days):
        raise ScheduleError(_("%(text)r: a day of the month is between 1 and 31.") % {"text": text})
    hour, minute = _time_after_days(text, match["rest"])
    return Schedule("cron", f"{minute} {hour} {','.join(map(str, days))} * *")


def _time_after_days(text: str, rest: str) -> tuple[int, int]:
    """The (hour, minute) in what follows a day phrase (' at 9am', ' às 9h'); rest starts with 'at'."""
    if not rest:
        raise ScheduleError(_("%(text)r needs a time of day, e.g. 'daily at 08:00' or 'todo dia às 8h'.") % {"text": text})
    return _parse_time(rest[_AT.match(rest).end():])


def _parse_time(text: str) -> tuple[int, int]:
    """(hour, minute) from 8, 08:00, 8h, 8h30, 7:30, 7pm, 7:30 am, 8 da noite, meio-dia."""
    if text in _NAMED_TIMES:
        return _NAMED_TIMES[text]
    match = _TIME.fullmatch(text)
    if match is None:
        raise ScheduleError(_("%(text)r is not a time of day; write it like 8, 08:00, 8h30, 7:30 pm or 8 da noite.") % {"text": text})
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    suffix = (match["suffix"] or "").replace(".", "")
    if suffix in ("am", "pm"):
        if match["part"]:
            raise ScheduleError(_("%(text)r: give am/pm or a part of the day (da manhã, da tarde, da noite), not both.") % {"text": text})
        if not 1 <= hour <= 12:
            raise ScheduleError(_("Hour %(hour)d is out of range with %(suffix)s: use 1-12.") % {"hour": hour, "suffix": suffix})
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if match["part"]:
        hour = _hour_in_part_of_day(hour, match["part"])
    if hour > 23:
        raise ScheduleError(_("Hour %(hour)d is out of range: use 0-23.") % {"hour": hour})
    if minute > 59:
        raise ScheduleError(_("Minute %(minute)d is out of range: use 0-59.") % {"minute": minute})
    return hour, minute


def _hour_in_part_of_day(hour: int, part: str) -> int:
    """The 24-hour reading of `hour` in a part of the day: 3 da tarde -> 15, 12 da noite -> 0."""
    span, hours = _DAY_PARTS[part]
    candidates = (hour % 12, hour % 12 + 12) if hour <= 12 else (hour,)
    for candidate in candidates:
        if candidate in hours:
            return candidate
    raise ScheduleError(_("Hour %(hour)d is out of range for %(part)r (%(span)s): e.g. 8 da manhã, 3 da tarde, "
                          "8 da noite, 2 da madrugada.") % {"hour": hour, "part": part, "span": span})


_TOMORROW = re.compile(r"(?:tomorrow|amanha)(?:\s+(?:at|as|ao|a|@))?\s+(?P<time>.+)")


def _read_tomorrow(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    """'amanhã às 9h', 'tomorrow at 9am': once, at that time on the next day of the chrono's zone."""
    match = _TOMORROW.fullmatch(text)
    if match is None:
        return None
    hour, minute = _parse_time(match["time"])
    day = now.astimezone(zone).date() + timedelta(days=1)
    return _once(_resolve_wall_time(datetime(day.year, day.month, day.day, hour, minute), zone))


def _read_iso(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    if _ISO.fullmatch(text) is None:
        return None
    moment = _fromisoformat(text)
    if moment.tzinfo is None:
        return _once(_resolve_wall_time(moment, zone))
    return _once(moment)


def _read_date_and_time(text: str, zone: tzinfo, now: datetime) -> Schedule | None:
    match = _DATE_AND_TIME.fullmatch(text)
    if match is None:
        return None
    hour, minute = _parse_time(match["time"])
    year, month, day = (match["year"], match["month"], match["day"]) if match["year"] else (
        match["br_year"], match["br_month"], match["br_day"])
    try:
        wall = datetime(int(year), int(month), int(day), hour, minute)
    except ValueError:
        raise ScheduleError(_("%(text)r is not a valid date.") % {"text": text}) from None
    return _once(_resolve_wall_time(wall, zone))


# --------------------------------------------------------------------------- fire times

# An upper bound on any DST shift (real ones are 30 min to 2 h): how far around `after`/`at`
# the wall-time walk must look so the second pass of an overlap is not missed.
_MAX_DST_SHIFT = timedelta(hours=3)


def next_fire_times(schedule: Schedule, tz: str | tzinfo, after: datetime, n: int = 5,
                    anchor: datetime | None = None) -> list[datetime]:
    """The first `n` fire times strictly after `after`, as aware UTC datetimes.

    Intervals are real elapsed time from `anchor` (default: `after`); an interval schedule
    never fires before its anchor.
    """
    _require_aware(after, "after")
    after = after.astimezone(UTC)
    if n <= 0 or schedule.kind == "manual":
        return []
    if schedule.kind == "once":
        return [schedule.run_at] if schedule.run_at > after else []
    if schedule.kind == "interval" and aligned_cron(schedule) is None:
        return _next_intervals(schedule.interval_seconds, after, n, anchor or after)
    return _next_cron(aligned_cron(schedule) or schedule.expression, _zone(tz), after, n)


def previous_fire_time(schedule: Schedule, tz: str | tzinfo, at: datetime,
                       anchor: datetime | None = None) -> datetime | None:
    """The latest fire time at or before `at` (UTC), or None. Intervals need an anchor."""
    _require_aware(at, "at")
    at = at.astimezone(UTC)
    if schedule.kind == "manual":
        return None
    if schedule.kind == "once":
        return schedule.run_at if schedule.run_at <= at else None
    if schedule.kind == "interval" and aligned_cron(schedule) is None:
        return _previous_interval(schedule.interval_seconds, at, anchor)
    return _previous_cron(aligned_cron(schedule) or schedule.expression, _zone(tz), at)


def aligned_cron(schedule: Schedule) -> str | None:
    """The cron an interval of whole hours dividing 24 (1, 2, 3, 4, 6, 8, 12 h) fires by, else None.

    Such intervals fire on the hour, counted from midnight in the chrono's zone (00:00,
    02:00, ...), as "a cada hora" always did, not from whenever the chrono was saved.
    Their DST rule is cron's for a wildcard hour: real elapsed time, no run at missing wall times.
    """
    seconds = schedule.interval_seconds
    if seconds is None or seconds % 3600 or 86400 % seconds or seconds == 86400:
        return None
    hours = seconds // 3600
    return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"


def _next_intervals(seconds: int, after: datetime, n: int, anchor: datetime) -> list[datetime]:
    step, anchor = timedelta(seconds=seconds), _whole_second(anchor)
    first = max(0, (after - anchor) // step + 1)  # timedelta // timedelta floors, also below 0
    return [(anchor + (first + k) * step).astimezone(UTC) for k in range(n)]


def _previous_interval(seconds: int, at: datetime, anchor: datetime | None) -> datetime | None:
    if anchor is None or _whole_second(anchor) > at:
        return None
    step, anchor = timedelta(seconds=seconds), _whole_second(anchor)
    return (anchor + ((at - anchor) // step) * step).astimezone(UTC)


def _whole_second(moment: datetime) -> datetime:
    """An interval's anchor (a row's created_at, with microseconds) rounded down to the second.

    Fire times are then whole seconds. Down, not up: a chrono's anchor is its creation, a
    moment already past when its fire times are asked for, and rounding up would put the
    anchor itself, a second away, first in line. Beat rounds its anchors the same way.
    """
    return moment.replace(microsecond=0)


def _is_wildcard(expression: str) -> bool:
    minute, hour = expression.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _next_cron(expression: str, zone: tzinfo, after: datetime, n: int) -> list[datetime]:
    """Shared by every `after` in the same minute: the times after the minute's start, when
    none of them falls between that start and `after` (true unless a zone's offset has seconds)."""
    minute = after.replace(second=0, microsecond=0)
    if minute != after:
        times = _next_cron_after_minute(expression, zone, minute, n)
        if times[0] > after:
            return list(times)
    return _walk_cron(expression, zone, after, n)


@lru_cache(maxsize=8192)
def _next_cron_after_minute(expression: str, zone: tzinfo, minute: datetime, n: int) -> tuple[datetime, ...]:
    return tuple(_walk_cron(expression, zone, minute, n))


def _walk_cron(expression: str, zone: tzinfo, after: datetime, n: int) -> list[datetime]:
    wildcard = _is_wildcard(expression)
    walker = croniter(expression, _wall(after, zone) - _MAX_DST_SHIFT)
    found: set[datetime] = set()
    while True:
        primary, second_pass = _instants(walker.get_next(datetime), zone, wildcard)
        found.update(t for t in (primary, second_pass) if t is not None and t > after)
        # Primaries never go back in time and second passes come after their primary,
        # so once the n-th earliest is behind the current primary, nothing can overtake it.
        if primary is not None and len(found) >= n and sorted(found)[n - 1] <= primary:
            return sorted(found)[:n]


def _previous_cron(expression: str, zone: tzinfo, at: datetime) -> datetime | None:
    wildcard = _is_wildcard(expression)
    walker = croniter(expression, _wall(at, zone) + _MAX_DST_SHIFT)
    best: datetime | None = None
    while True:
        primary, second_pass = _instants(walker.get_prev(datetime), zone, wildcard)
        for moment in (primary, second_pass):
            if moment is not None and moment <= at and (best is None or moment > best):
                best = moment
        # Earlier wall times give instants no later than primary + one DST shift.
        if best is not None and primary is not None and primary + _MAX_DST_SHIFT <= best:
            return best


def _instants(wall: datetime, zone: tzinfo, wildcard: bool) -> tuple[datetime | None, datetime | None]:
    """UTC instants of a cron match at this wall time: (first run, run in an overlap's second pass)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first, None
    if first < second:  # overlap: this wall time happens twice
        return first, (second if wildcard else None)
    # Gap (PEP 495 maps a missing time with fold=0 past the transition, fold=1 before it).
    return (None if wildcard else _gap_end(second, first, zone)), None


def gap_note(schedule: Schedule, tz: str | tzinfo, fire: datetime, lang: str = "en") -> str | None:
    """Why a fire time is not the wall time the schedule names, when a DST gap moved it; else None.

    "30 2 * * *" in America/New_York on 2026-03-08 fires at 03:00 EDT: 02:30 does not exist.
    """
    if schedule.kind != "cron" or _is_wildcard(schedule.expression):
        return None  # wildcard crons skip missing wall times, they never move one
    zone = _zone(tz)
    before, after = (fire - timedelta(seconds=1)).astimezone(zone), fire.astimezone(zone)
    if after.utcoffset() <= before.utcoffset():
        return None  # not the first instant after a gap
    gap_start = (fire + before.utcoffset()).replace(tzinfo=None)  # the first missing wall time
    intended = croniter(schedule.expression, gap_start - timedelta(minutes=1)).get_next(datetime)
    if intended >= after.replace(tzinfo=None):
        return None
    zone_name = getattr(zone, "key", None) or str(zone)
    return words.gap(intended, gap_start, after.replace(tzinfo=None), zone_name, words.is_portuguese(lang))


def _resolve_wall_time(wall: datetime, zone: tzinfo) -> datetime:
    """A typed wall time as an aware UTC instant, with the fixed-time DST rule."""
    primary, _later = _instants(wall, zone, wildcard=False)
    return primary


def _gap_end(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The DST transition instant between two UTC instants: the first valid time after a gap."""
    low, high = before.replace(microsecond=0), after.replace(microsecond=0)
    offset_before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low) // timedelta(seconds=1) // 2)
        if middle.astimezone(zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return high


# --------------------------------------------------------------------------- descriptions (words: schedule_words.py)

def describe(schedule: Schedule, tz: str | tzinfo, lang: str = "en", typed: str | None = None) -> str:
    """A human description in English ("en") or Brazilian Portuguese ("pt_BR", "pt-br", "pt").

    `typed`, the text the schedule was parsed from, adds a note on how it was read when
    that is not plain from the result (a 6-field cron turned into 5 fields).
    """
    portuguese = words.is_portuguese(lang)
    text = _describe_kind(schedule, _zone(tz), portuguese)
    note = _six_field_note(typed, schedule.expression, portuguese) if typed and schedule.kind == "cron" else None
    return f"{text} — {note}" if note else text


def _six_field_note(typed: str, expression: str, portuguese: bool) -> str | None:
    """How a seconds-first 6-field cron the operator typed was read, or None for other text."""
    fields = _clean(typed).split()
    if len(fields) != 6 or fields[0] not in _ZERO_SECONDS:
        return None
    return words.six_field_note(" ".join(fields), expression, portuguese)


def _describe_kind(schedule: Schedule, zone: tzinfo, portuguese: bool) -> str:
    zone_name = getattr(zone, "key", None) or str(zone)
    if schedule.kind == "cron":
        return f"{words.cron(schedule.expression, portuguese)} ({zone_name})"
    if schedule.kind == "interval":
        aligned = aligned_cron(schedule) is not None
        return words.interval(schedule.interval_seconds, portuguese, aligned, zone_name)
    if schedule.kind == "manual":
        return words.manual(portuguese)
    return words.once(schedule.run_at.astimezone(zone), zone_name, portuguese)


