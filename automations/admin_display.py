"""How the admin shows a chrono's and a run's values: labelled local times, pretty JSON, the attempts table."""

import json
from datetime import datetime

from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from chronoflow import timefmt

EMPTY = "-"


def local_time(when: datetime | str | None, zone: str | None = None) -> str:
    """``02/12/2026 15:07:49 -03 (America/Sao_Paulo)`` (pt-BR): to the second, the zone named.

    ``zone``: a chrono's own zone for its fire times; None (what has happened: runs, last
    run, created) for the operator's zone (accounts/middleware.py), else TIME_ZONE's."""
    if isinstance(when, str):
        when = parse_datetime(when)
    return timefmt.local_time(when, zone, EMPTY)


def local_time_html(when: datetime | str | None, zone: str | None = None) -> SafeString:
    """local_time with the zone's name in a muted span."""
    day_time, paren, label = local_time(when, zone).partition(" (")
    if not paren:
        return format_html("{}", day_time)
    return format_html('{} <span class="cf-zone">({}</span>', day_time, label)


def pretty_json(value) -> SafeString:
    """Indented JSON in a <pre>; a dash for nothing."""
    if value in (None, "", [], {}):
        return format_html("{}", EMPTY)
    return format_html('<pre class="cf-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False, default=str))


def attempts_table(attempts: list | None, zone: str | None = None) -> SafeString:
    """One row per attempt: number, start and end (to the second), time taken, outcome, HTTP status, error."""
    rows = [entry for entry in (attempts or []) if isinstance(entry, dict)]
    if not rows:
        return format_html("{}", _("No attempt yet."))
    header = format_html_join("", '<th scope="col">{}</th>', ((h,) for h in (
        _("Attempt"), _("Started"), _("Finished"), _("Took"), _("Outcome"), _("HTTP"), _("Error"))))
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                '<td class="cf-error">{}</td></tr>', (_attempt_cells(entry, zone) for entry in rows))
    return format_html('<table class="cf-attempts"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', header, body)


def _attempt_cells(entry: dict, zone: str) -> tuple:
    took = entry.get("duration_ms")
    if entry.get("lost"):
        outcome = _("lost (no worker finished it)")
    else:
        outcome = _("succeeded") if entry.get("ok") else _("failed")
    return (entry.get("attempt", EMPTY), local_time_html(entry.get("started_at"), zone),
            local_time_html(entry.get("finished_at"), zone), EMPTY if took is None else f"{took} ms",
            outcome, entry.get("http_status") or EMPTY, entry.get("error") or EMPTY)
