"""Prometheus metrics, computed from the database and the broker at each scrape.

Web, worker and beat are separate processes (and may be many machines), so counters kept
in one process's memory would each tell part of the story. The rows are the truth: runs
by status and target, lateness and duration histograms, queue depth, channels by status,
and each governed channel's outbox (queued sends, sends in the last 24 h, outreach paused).

Finished runs are read from their tallies (automations/runs/tallies.py), kept as each run ends,
never from a scan of the runs table: histograms and ``chronoflow_runs_finished_total``
only grow, pruning old runs included.
"""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from automations.models import Chrono, ChronoRun
from automations.runs import tallies
from chronoflow import signing

# Seconds. Lateness: beat should dispatch within a second or two; minutes mean a backlog.
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class MetricsToken(BasePermission):
    """``Authorization: Bearer <METRICS_TOKEN>`` (for Prometheus), or a staff user (for a look by hand).

    Without METRICS_TOKEN set, staff only: metrics are not for the public internet.
    """

    message = "Send Authorization: Bearer <METRICS_TOKEN>, or log in as staff."

    def has_permission(self, request: Request, view) -> bool:
        if request.user and request.user.is_staff:
            return True
        expected = settings.METRICS_TOKEN
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        return bool(expected) and scheme.lower() == "bearer" and signing.same(expected, given.strip())


@extend_schema(
    summary="Prometheus metrics",
    description="Runs by status and target type, dispatch lateness and run duration histograms, queue depth, "
                "chronos and channels by state, each governed WhatsApp channel's queued sends, sends in the last 24 h "
                "and outreach pause, in Prometheus' text format. "
                "Needs `Authorization: Bearer <METRICS_TOKEN>`, or a staff login.",
    responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus text format 0.0.4"),
               401: OpenApiResponse(description="No credentials"), 403: OpenApiResponse(description="Wrong token")},
    tags=["operations"],
)
@api_view(["GET"])
@permission_classes([MetricsToken])
def metrics(request: Request) -> HttpResponse:
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


class _Collector:
    def collect(self) -> Iterator[Metric]:
        yield from runs_by_status()
        yield lateness_histogram()
        yield duration_histogram()
        yield queue_depth()
        yield chronos_by_state()
        yield channels_by_status()
        yield from send_governors()


def runs_by_status() -> Iterator[Metric]:
    stored = GaugeMetricFamily("chronoflow_runs", "Runs by status and target type: pending and running ones "
                               "now; final ones, every run that ended so (as chronoflow_runs_finished_total).",
                               labels=["status", "target_type"])
    finished = CounterMetricFamily("chronoflow_runs_finished",
                                   "Runs that reached a final status, by status and target type.",
                                   labels=["status", "target_type"])
    for tally in tallies.read("runs"):
        stored.add_metric([tally.status, tally.target_type], tally.n)
        finished.add_metric([tally.status, tally.target_type], tally.n)
    # Pending and running runs are few: counted by the (status, ...) index.
    live = ChronoRun.objects.filter(status__in=[ChronoRun.Status.PENDING, ChronoRun.Status.RUNNING])
    for row in live.values("status", "chrono__target_type").annotate(n=Count("pk")).order_by():
        stored.add_metric([row["status"], row["chrono__target_type"]], row["n"])
    yield stored
    yield finished


def _histogram(name: str, help_text: str, metric: str, buckets_s: tuple) -> Metric:
    """One histogram by target type, from the all-time tallies (exact: see automations/runs/tallies.py)."""
    by_type: dict[str, list[int]] = {}
    sums: dict[str, int] = {}
    bounds_ms = [round(b * 1000) for b in buckets_s]
    for tally in tallies.read(metric):
        counts = by_type.setdefault(tally.target_type, [0] * (len(bounds_ms) + 1))
        for i, bound in enumerate(bounds_ms):
            if tally.value_ms <= bound:
                counts[i] += tally.n
        counts[-1] += tally.n
        sums[tally.target_type] = sums.get(tally.target_type, 0) + tally.total_ms
    family = HistogramMetricFamily(name, help_text, labels=["target_type"])
    for target_type, counts in sorted(by_type.items()):
        cumulative = [(repr(float(b)), counts[i]) for i, b in enumerate(buckets_s)] + [("+Inf", counts[-1])]
        family.add_metric([target_type], cumulative, sum_value=sums[target_type] / 1000)
    return family


def lateness_histogram() -> Metric:
    # First attempts of scheduled runs only: a retry starts late on purpose (backoff).
    return _histogram("chronoflow_run_lateness_seconds", "How late beat's runs started after their scheduled time.",
                      "lateness", LATENESS_BUCKETS)


def duration_histogram() -> Metric:
    return _histogram("chronoflow_run_duration_seconds", "How long finished runs took, last attempt.",
                      "duration", DURATION_BUCKETS)


def queue_depth() -> Metric:
    from chronoflow.health import broker_queue_depth

    metric = GaugeMetricFamily("chronoflow_queue_depth", "Messages waiting in the workers' broker queue (-1: broker unreachable).")
    try:
        metric.add_metric([], broker_queue_depth())
    except Exception:  # the scrape must still show everything else
        metric.add_metric([], -1)
    return metric


def chronos_by_state() -> Metric:
    metric = GaugeMetricFamily("chronoflow_chronos", "Chronos, by target type and whether they are active.",
                               labels=["target_type", "active"])
    # COUNT(*), not COUNT(id): an index-only scan of (target_type, is_active) answers it.
    for row in Chrono.objects.values("target_type", "is_active").annotate(n=Count("*")).order_by():
        metric.add_metric([row["target_type"], str(row["is_active"]).lower()], row["n"])
    return metric


def channels_by_status() -> Metric:
    from whatsapp.models import Channel

    metric = GaugeMetricFamily("chronoflow_channels", "WhatsApp channels, by status.", labels=["status"])
    counts = dict(Channel.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Channel.Status.values:  # every status, zeros included, so alerts see 0 not "absent"
        metric.add_metric([status], counts.pop(status, 0))
    for status, n in counts.items():  # a status WAHA added that our choices do not know yet
        metric.add_metric([status], n)
    return metric


def send_governors() -> Iterator[Metric]:
    """Per governed channel, what its admin page shows (whatsapp/outbox.py ``status``)."""
    from whatsapp import outbox
    from whatsapp.models import Channel

    queued = GaugeMetricFamily("chronoflow_whatsapp_queued_sends", "Sends waiting in a governed channel's outbox.",
                               labels=["channel"])
    sent = GaugeMetricFamily("chronoflow_whatsapp_sends_24h", "Sends of a governed channel in the last 24 h "
                             "(unconfirmed ones included: they count on the budget).", labels=["channel"])
    paused = GaugeMetricFamily("chronoflow_whatsapp_outreach_paused", "1 while a ban signal keeps a governed "
                               "channel from messaging new contacts, else 0.", labels=["channel"])
    for channel in Channel.objects.exclude(send_profile="").order_by("session_name"):
        state = outbox.status(channel)
        queued.add_metric([channel.session_name], state["queued"])
        sent.add_metric([channel.session_name], state["sent_24h"])
        paused.add_metric([channel.session_name], int(channel.outreach_paused))
    yield from (queued, sent, paused)
