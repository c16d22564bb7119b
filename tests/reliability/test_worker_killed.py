"""Point 1: a worker killed with SIGKILL mid-run. Real worker and beat processes, a slow
local HTTP server; the fault is a real `kill -9` of the worker's process group."""

import signal

import pytest

from automations.models import ChronoRun
from tests.localserver import Reply
from tests.processes import running, wait_until
from tests.reliability.conftest import FAST, final_run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_runs_held_by_a_killed_worker_end_retried_to_success_or_as_timeout_never_running(
        http_chrono, local_server, tmp_path):
    # The first call hangs (the worker dies during it); any later call answers at once.
    local_server.replies("/retried", [Reply(status=200, delay=60), Reply(status=200, body="ok")])
    local_server.replies("/last-chance", [Reply(status=200, delay=60), Reply(status=200, body="ok")])
    retried = http_chrono(local_server.url("/retried"), name="retried", timeout_ms=1500, max_attempts=3)
    last_chance = http_chrono(local_server.url("/last-chance"), name="last", timeout_ms=1500, max_attempts=1)

    (tmp_path / "first").mkdir()
    with running("worker", log_dir=tmp_path / "first", **FAST) as procs:
        retried.trigger()
        last_chance.trigger()
        wait_until(lambda: local_server.requests_to("/retried") and local_server.requests_to("/last-chance"),
                   message="both runs to reach the server")
        procs["worker"].kill(signal.SIGKILL)
    assert set(ChronoRun.objects.values_list("status", flat=True)) == {"running"}  # what a crash leaves

    (tmp_path / "second").mkdir()
    with running("worker", "beat", log_dir=tmp_path / "second", **FAST):
        ok = wait_until(lambda: final_run(retried), timeout=60, message="the retried run to end")
        timed_out = wait_until(lambda: final_run(last_chance), timeout=60, message="the last-chance run to end")

    assert (ok.status, ok.attempt) == ("success", 2)
    assert [a["ok"] for a in ok.attempts] == [False, True] and ok.attempts[0]["lost"] is True
    calls = local_server.requests_to("/retried")
    assert len(calls) == 2 and calls[0].headers["idempotency-key"] == calls[1].headers["idempotency-key"]

    assert (timed_out.status, timed_out.attempt) == ("timeout", 1)
    assert len(local_server.requests_to("/last-chance")) == 1
    last_chance.refresh_from_db()
    assert last_chance.last_run_status == "timeout"
    assert last_chance.last_error.startswith("Timed out: attempt 1 was lost")
    assert not ChronoRun.objects.filter(status="running").exists()
