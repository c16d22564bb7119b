"""Issue 12, item 1, end to end: a broker lost with hundreds of messages queued loses no
occurrence. Beat records each occurrence as a pending run before publishing it, so when a
private redis-server is SIGKILLed with the queue full, the reaper sends the catch_up
occurrences again and skips, with the reason, those the skip and run_once policies gave up
on. Every occurrence in the window ends as a row: executed exactly once, or skipped."""

import os
import signal
from datetime import timedelta

import pytest
import redis as redis_client
from celery import Celery
from django.utils import timezone

from automations.models import Chrono, ChronoRun
from automations.targets.http import idempotency_key
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

EVERY_S = 2
# 50 chronos, 25 occurrences a second: about what two prefork processes run, so after the
# restart the skip and run_once messages may also expire in the queue (the reaper skips them).
POLICIES = {"catch_up": 10, "skip": 20, "run_once": 20}
QUEUED = 500
# Longer than the drain after the restart: a run still waiting in the queue is re-sent once per
# grace, and on a busy machine a short grace piles copies onto the very backlog being drained.
GRACE_S = 20


def make_chronos(http_chrono, url: str) -> list[Chrono]:
    return [http_chrono(url, name=f"{policy}-{i}", schedule=f"every {EVERY_S} seconds", misfire_policy=policy,
                        overlap_policy="allow")
            for policy, count in POLICIES.items() for i in range(count)]


def queued(redis: RedisServer) -> int:
    client = redis_client.Redis.from_url(redis.url)
    return sum(client.llen(key) for key in client.scan_iter("celery*") if client.type(key) == b"list")


def stop_when_idle(worker: Process, broker_url: str) -> None:
    """Stop consuming, let what the worker holds finish, then kill it: nothing is cut mid-run.

    (Celery's warm shutdown would do the same but hung for 30 s here after its last task.)
    """
    # Not the current app: shared tasks (and tests patching them) must keep resolving to ChronoFlow's.
    control = Celery(broker=broker_url, set_as_current=False).control
    control.cancel_consumer("celery", reply=True, timeout=5)

    def idle() -> bool:
        inspect = control.inspect(timeout=1)
        active, reserved = inspect.active(), inspect.reserved()
        return active is not None and reserved is not None and not any([*active.values(), *reserved.values()])

    wait_until(idle, timeout=20, message="the worker to finish what it holds")
    worker.kill(signal.SIGKILL)


def settled(chronos: list[Chrono], until) -> bool:
    """Every occurrence up to `until` has a final run, and each chrono has fired after it."""
    runs = ChronoRun.objects.filter(chrono__in=chronos)
    open_runs = runs.filter(scheduled_for__lte=until).exclude(status__in=ChronoRun.FINAL).exists()
    fired_after = runs.filter(scheduled_for__gt=until).values("chrono").distinct().count()
    return not open_runs and fired_after == len(chronos)


def test_a_broker_killed_with_hundreds_of_messages_queued_loses_no_occurrence(http_chrono, local_server, tmp_path):
    local_server.reply("/hit", status=200)
    chronos = make_chronos(http_chrono, local_server.url("/hit"))
    with RedisServer(tmp_path) as redis:
        env = {**process_env(**FAST), "REDIS_URL": redis.url, "RUN_REAPER_GRACE_S": str(GRACE_S)}
        worker = Process("worker", commands.worker_command(concurrency=2), tmp_path, env)
        beat = Process("beat", commands.beat_command(), tmp_path, env)
        try:
            wait_until(lambda: ChronoRun.objects.filter(status="success").values("chrono__misfire_policy")
                       .distinct().count() == len(POLICIES), timeout=30, message="each policy's chronos to run")
            window_start = timezone.now()
            stop_when_idle(worker, redis.url)  # messages pile up in Redis from now on
            wait_until(lambda: queued(redis) >= QUEUED, timeout=40, message=f"{QUEUED} messages queued")
            lost = queued(redis)
            redis.kill()  # SIGKILL, no persistence: every queued message is gone
            redis.start()
            worker = Process("worker-2", commands.worker_command(concurrency=2), tmp_path, env)
            window_end = timezone.now() + timedelta(seconds=EVERY_S)
            wait_until(lambda: settled(chronos, window_end), timeout=75, message="every occurrence to end")
        finally:
            worker.kill()
            beat.kill()

    assert lost >= QUEUED
    keys = [r.headers["idempotency-key"] for r in local_server.requests_to("/hit")]
    for chrono in chronos:
        runs = list(chrono.runs.filter(scheduled_for__gte=window_start - timedelta(seconds=EVERY_S),
                                       scheduled_for__lte=window_end).order_by("scheduled_for"))
        times = [run.scheduled_for for run in runs]
        # No occurrence without a row: one every EVERY_S seconds across the whole window.
        assert {b - a for a, b in zip(times, times[1:])} == {timedelta(seconds=EVERY_S)}, chrono.name
        assert times[0] <= window_start and times[-1] > window_end - timedelta(seconds=EVERY_S)
        for run in runs:
            if run.status == "success":
                assert keys.count(idempotency_key(run)) == 1, (chrono.name, run.scheduled_for, run.attempts)  # once
            else:
                assert run.status == "skipped" and run.error_message.startswith("Skipped:"), (chrono.name, run)
                assert chrono.misfire_policy != "catch_up"  # catch_up runs every occurrence it still can
                assert idempotency_key(run) not in keys
    skipped = ChronoRun.objects.filter(chrono__in=chronos, status="skipped")
    assert skipped.filter(chrono__misfire_policy="skip").exists() and skipped.filter(
        chrono__misfire_policy="run_once").exists()
