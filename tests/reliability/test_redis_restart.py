"""Point 2: Redis restarted while chronos fire. The worker and beat use a private
redis-server on a free port (never the machine's shared one), which the test kills and
starts again empty, as a crashed Redis without persistence comes back."""

import os
import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from automations.models import Chrono
from chronoflow import processes as commands
from tests.processes import Process, process_env, wait_until
from tests.reliability.conftest import FAST
from tests.reliability.faults import RedisServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    # CI always runs it: there a missing redis-server is a failure, not a skip.
    pytest.mark.skipif(not RedisServer.available() and not os.environ.get("CI"), reason="redis-server is not installed"),
]

OUTAGE_S = 10
BEAT_GRACE_S = 5  # ChronoScheduler.misfire_grace_s: later than this, an occurrence counts as missed


def scheduled(chrono: Chrono) -> list[datetime]:
    return list(chrono.runs.filter(status="success").order_by("scheduled_for").values_list("scheduled_for", flat=True))


def test_worker_and_beat_reconnect_after_a_redis_restart_and_the_gap_follows_each_misfire_policy(
        http_chrono, local_server, tmp_path):
    local_server.reply("/skip", status=200)
    local_server.reply("/catch-up", status=200)
    common = {"schedule": "every 1 second", "overlap_policy": "allow"}
    skip = http_chrono(local_server.url("/skip"), name="skip", misfire_policy="skip", **common)
    catch_up = http_chrono(local_server.url("/catch-up"), name="catch-up", misfire_policy="catch_up", **common)

    with RedisServer(tmp_path) as redis:
        env = {**process_env(**FAST), "REDIS_URL": redis.url}
        procs = [Process("worker", commands.worker_command(concurrency=2), tmp_path, env),
                 Process("beat", commands.beat_command(), tmp_path, env)]
        try:
            wait_until(lambda: len(scheduled(skip)) >= 2 and len(scheduled(catch_up)) >= 2, timeout=45,
                       message="both chronos to fire before the outage")
            redis.kill()
            down_at = timezone.now()
            time.sleep(OUTAGE_S)  # the length of the fault itself, not a wait for a result
            redis.start()
            up_at = timezone.now()
            after = up_at + timedelta(seconds=3)
            wait_until(lambda: scheduled(skip)[-1] > after and scheduled(catch_up)[-1] > after, timeout=60,
                       message="both chronos to fire again after the restart")
        finally:
            for proc in procs:
                proc.kill()

    for chrono, path in ((skip, "/skip"), (catch_up, "/catch-up")):
        runs = list(chrono.runs.filter(status="success"))
        assert all(run.attempt == 1 for run in runs)
        keys = [r.headers["idempotency-key"] for r in local_server.requests_to(path)]
        assert len(keys) == len(set(keys)) == len(runs)  # no occurrence executed twice
    # Every other run is an occurrence the skip policy gave up on, saying so (issue 12: no
    # occurrence without a row); catch_up gives up on none.
    # (Runs after `after` may still have been in flight when the processes were stopped.)
    assert not catch_up.runs.exclude(status="success").filter(scheduled_for__lte=after).exists()
    others = list(skip.runs.exclude(status="success").exclude(scheduled_for__gt=after))
    assert all(run.status == "skipped" and run.error_message.startswith("Skipped:") for run in others)
    occurrences = sorted(skip.runs.filter(scheduled_for__lte=after).values_list("scheduled_for", flat=True))
    assert {b - a for a, b in zip(occurrences, occurrences[1:])} == {timedelta(seconds=1)}

    # skip: what was missed by more than beat's grace never ran.
    missed = [t for t in scheduled(skip) if down_at + timedelta(seconds=1.5) < t < up_at - timedelta(seconds=BEAT_GRACE_S)]
    assert missed == []
    # catch_up: every occurrence ran, outage included, one second apart.
    times = scheduled(catch_up)
    assert times[0] < down_at and times[-1] > up_at
    assert {b - a for a, b in zip(times, times[1:])} == {timedelta(seconds=1)}
