"""Shared pieces of the reliability tests: fast timings for the real processes, chrono makers."""

import pytest

from automations.models import Chrono, ChronoRun

# Passed to every worker and beat these tests start, so faults heal in seconds, not minutes.
FAST = {
    "RUN_REAPER_GRACE_S": "1",
    "RUN_REAPER_INTERVAL_S": "1",
    "REDIS_VISIBILITY_TIMEOUT_S": "3",
    "REDIS_RESTORE_INTERVAL_S": "1",
    "RUN_BACKOFF_MS": "100",
}


@pytest.fixture
def http_chrono(transactional_db):
    """An HTTP chrono that fires only when triggered (its cron is once a year)."""

    def make(url: str, **fields) -> Chrono:
        defaults = {"name": "hook", "schedule": "0 0 1 1 *", "timezone": "UTC", "target_type": "HTTP",
                    "method": "POST", "url": url, "payload": {"n": 1}, "backoff_ms": 100}
        return Chrono.objects.create(**{**defaults, **fields})

    return make


def final_run(chrono: Chrono) -> ChronoRun | None:
    return chrono.runs.filter(status__in=ChronoRun.FINAL).order_by("pk").first()


def all_final(chrono: Chrono, count: int) -> list[ChronoRun] | None:
    runs = list(chrono.runs.order_by("pk"))
    return runs if len(runs) >= count and all(r.is_final for r in runs) else None
