"""The admin index's dashboard: the last 24 hours at a glance, and the coloured status badges.

``figures(now)`` computes what the index shows: runs by status, p95 dispatch lateness,
the failing chronos with their last error, the channels that are not WORKING.
``status_badge(status)`` is the coloured label the admin lists use for the same statuses.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

from automations.models import Chrono, ChronoRun
from automations.runs import tallies

WINDOW = timedelta(hours=24)
FAILING_LIMIT = 10
FAILED = (ChronoRun.Status.FAILED, ChronoRun.Status.TIMEOUT)
LIVE = (ChronoRun.Status.PENDING, ChronoRun.Status.RUNNING)

# Run statuses and WAHA session statuses share one palette: green is good, red is bad,
# amber needs a person (scan the QR), blue is in progress, grey is idle.
COLOURS = {
    "success": "#2e7d32", "failed": "#c62828", "timeout": "#d84315", "running": "#1565c0",
    "pending": "#616161", "skipped": "#9e9e9e",
    "WORKING": "#2e7d32", "FAILED": "#c62828", "STARTING": "#1565c0", "SCAN_QR_CODE": "#b26a00",
    "PASSKEY_REQUIRED": "#b26a00", "PASSKEY_CONFIRMATION_REQUIRED": "#b26a00", "STOPPED": "#616161",
    # Chrono states (Chrono.State): a finished one-shot is neither running nor waiting for a person.
    "active": "#2e7d32", "paused": "#616161", "done": "#455a64",
}
LABELS = dict(ChronoRun.Status.choices)


def status_badge(status: str, label: str | None = None) -> SafeString:
    """A coloured pill for a run or channel status; '-' when there is none yet."""
    if not status:
        return format_html("{}", "-")
    # Escaped first, so that the cache's key is the text written (and in the active language).
    label = conditional_escape(label or LABELS.get(status, status))
    return _badge(conditional_escape(status.lower()), COLOURS.get(status, "#616161"), label)


@functools.lru_cache(maxsize=256)
def _badge(css_status: str, colour: str, label: str) -> SafeString:
    # The lists show two badges a row, from a handful of (status, label) pairs.
    return format_html(
        '<span class="cf-badge cf-badge-{}" style="background:{};color:#fff;padding:1px 8px;border-radius:9px;'
        'font-size:11px;font-weight:600;white-space:nowrap">{}</span>',
        css_status, colour, label,
    )


@dataclass
class FailingChrono:
    chrono: Chrono
    failures: int


@dataclass
class Figures:
    since: datetime
    runs_by_status: list[tuple[str, str, int]] = field(default_factory=list)  # (status, label, count)
    total_runs: int = 0
    p95_lateness_s: float | None = None
    failing: list[FailingChrono] = field(default_factory=list)
    channels_not_working: list = field(default_factory=list)
    has_channels: bool = False  # none at all: "No channels yet", not "every channel is WORKING"


def figures(now: datetime | None = None) -> Figures:
    """The dashboard's figures for the 24 hours before ``now`` (finished runs: from the start of that hour).

    Finished runs are read from their tallies (automations/runs/tallies.py), pending and
    running ones from the runs table by its status index: no scan of the day's runs.
    """
    since = (now or timezone.now()) - WINDOW
    counts = runs_by_status(since)
    return Figures(
        since=since,
        runs_by_status=[(status, label, counts.get(status, 0)) for status, label in ChronoRun.Status.choices],
        total_runs=sum(counts.values()),
        p95_lateness_s=p95_lateness(since),
        failing=failing_chronos(since),
        channels_not_working=channels_not_working(),
        has_channels=has_channels(),
    )


def runs_by_status(since: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tally in tallies.read("runs", since):
        counts[tally.status] = counts.get(tally.status, 0) + tally.n
    live = ChronoRun.objects.filter(status__in=LIVE, scheduled_for__gte=since)
    counts.update(live.values_list("status").annotate(n=Count("pk")).order_by())
    return counts


def p95_lateness(since: datetime) -> float | None:
    """95th percentile of how late beat started scheduled runs (first attempts), in seconds.

    Nearest-rank over the lateness tallies: to two significant figures, rounded up.
    """
    ms = tallies.nearest_rank(tallies.read("lateness", since), 0.95)
    return None if ms is None else ms / 1000


def failing_chronos(since: datetime) -> list[FailingChrono]:
    """Chronos whose latest run failed within the window, most recent first, with their failure count."""
    chronos = list(Chrono.objects.filter(last_run_status__in=FAILED, last_run_at__gte=since)
                   .order_by("-last_run_at")[:FAILING_LIMIT])
    # Counted for these few chronos only, each by its (chrono, scheduled_for) index.
    failures = dict(ChronoRun.objects.filter(chrono__in=chronos, status__in=FAILED, scheduled_for__gte=since)
                    .values_list("chrono").annotate(n=Count("pk")).order_by())
    return [FailingChrono(chrono, failures.get(chrono.pk, 0)) for chrono in chronos]


def has_channels() -> bool:
    from whatsapp.models import Channel

    return Channel.objects.exists()


def channels_not_working() -> list:
    from whatsapp.models import Channel

    return list(Channel.objects.exclude(status=Channel.Status.WORKING).order_by("name"))
