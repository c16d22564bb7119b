"""A chrono through real processes: the worker and beat `make run` starts, the test
database, the configured broker (filesystem locally, Redis in CI) and a local HTTP server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automations.models import Chrono, ChronoRun
from tests.localserver import closed_port
from tests.processes import running, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def one_shot_at(seconds: int) -> str:
    return (timezone.now() + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def final_run(chrono: Chrono) -> ChronoRun | None:
    return chrono.runs.filter(status__in=ChronoRun.FINAL).first()


def test_a_one_shot_http_chrono_calls_the_server_once_and_deactivates(local_server, tmp_path):
    local_server.reply("/hook", status=200, body={"ok": True})
    chrono = Chrono.objects.create(
        name="Webhook teste", schedule=one_shot_at(3), timezone="UTC", target_type="HTTP",
        url=local_server.url("/hook"), method="POST", payload={"hello": "world"},
    )
    with running("worker", "beat", log_dir=tmp_path) as procs:
        run = wait_until(lambda: final_run(chrono), timeout=45, message="the run to finish")
        # Give a duplicate delivery a chance to show up before counting requests.
        wait_until(lambda: "succeeded" in procs["worker"].log(), timeout=10, message="worker log")

    assert run.status == "success" and run.http_status == 200 and run.attempt == 1
    assert [r.json() for r in local_server.requests_to("/hook")] == [{"hello": "world"}]
    chrono.refresh_from_db()
    assert not chrono.is_active and chrono.last_run_status == "success"
    assert chrono.runs.count() == 1


def test_failing_targets_end_failed_after_their_attempts_while_others_keep_running(local_server, tmp_path):
    local_server.reply("/boom", status=500, body="kaput")
    local_server.reply("/slow", status=200, delay=5)
    local_server.reply("/ok", status=204)
    common = {"schedule": "0 0 1 1 *", "timezone": "UTC", "target_type": "HTTP", "method": "POST", "backoff_ms": 100}
    failing = [
        Chrono.objects.create(name="500", url=local_server.url("/boom"), max_attempts=2, **common),
        Chrono.objects.create(name="refused", url=f"http://127.0.0.1:{closed_port()}/", max_attempts=2, **common),
        Chrono.objects.create(name="timeout", url=local_server.url("/slow"), timeout_ms=500, max_attempts=1, **common),
    ]
    healthy = Chrono.objects.create(name="ok", url=local_server.url("/ok"), **common)

    with running("worker", log_dir=tmp_path):
        for chrono in failing:
            chrono.trigger()
        runs = wait_until(lambda: all(final_run(c) for c in failing) and [final_run(c) for c in failing],
                          timeout=60, message="the failing runs to end")
        healthy.trigger()
        ok_run = wait_until(lambda: final_run(healthy), timeout=30, message="the healthy run")

    boom, refused, slow = runs
    assert boom.status == "failed" and boom.attempt == 2 and boom.http_status == 500 and "500" in boom.error_message
    assert len(boom.attempts) == 2 and len(local_server.requests_to("/boom")) == 2
    assert refused.status == "failed" and refused.attempt == 2 and "refused" in refused.error_message.lower()
    assert slow.status == "timeout" and "timed out" in slow.error_message.lower()
    assert ok_run.status == "success" and ok_run.http_status == 204
    for chrono, status in zip(failing, ["failed", "failed", "timeout"]):
        chrono.refresh_from_db()
        assert chrono.last_run_status == status and chrono.last_error
