"""Point 4: the overlap policy of a chrono, with a real worker and a slow local target."""

import pytest

from tests.processes import running, wait_until
from tests.reliability.conftest import FAST, all_final

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SLOW_S = 2


def start_one_then_fire(chrono, local_server, more: int) -> None:
    """Trigger a run, wait until it is at the server, then trigger `more` runs."""
    chrono.trigger()
    wait_until(lambda: local_server.requests_to("/slow"), message="the first run to reach the server")
    for _ in range(more):
        chrono.trigger()


def test_skip_is_the_default_and_skips_runs_while_the_previous_one_is_running(http_chrono, local_server, tmp_path):
    local_server.reply("/slow", status=200, delay=SLOW_S)
    chrono = http_chrono(local_server.url("/slow"))
    assert chrono.overlap_policy == "skip"
    with running("worker", log_dir=tmp_path, **FAST):
        start_one_then_fire(chrono, local_server, more=2)
        first, *others = wait_until(lambda: all_final(chrono, 3), message="three runs to end")
    assert first.status == "success" and [r.status for r in others] == ["skipped", "skipped"]
    assert all(r.error_message == f"Skipped: run #{first.pk} is still in progress (overlap policy: skip)."
               for r in others)
    assert len(local_server.requests_to("/slow")) == 1


def test_allow_runs_the_next_one_while_the_previous_one_is_still_running(http_chrono, local_server, tmp_path):
    local_server.reply("/slow", status=200, delay=SLOW_S)
    chrono = http_chrono(local_server.url("/slow"), overlap_policy="allow")
    with running("worker", log_dir=tmp_path, **FAST):
        start_one_then_fire(chrono, local_server, more=1)
        wait_until(lambda: len(local_server.requests_to("/slow")) == 2, message="the second call")
        assert chrono.runs.filter(status="running").count() == 2  # both in flight at once
        runs = wait_until(lambda: all_final(chrono, 2), message="both runs to end")
    assert [r.status for r in runs] == ["success", "success"]


def test_queue_holds_one_run_behind_the_running_one_and_skips_any_further(http_chrono, local_server, tmp_path):
    local_server.reply("/slow", status=200, delay=SLOW_S)
    chrono = http_chrono(local_server.url("/slow"), overlap_policy="queue")
    with running("worker", log_dir=tmp_path, **FAST):
        start_one_then_fire(chrono, local_server, more=1)
        wait_until(lambda: chrono.runs.filter(error_message__startswith="Queued behind").exists(),
                   message="the second run to be queued")
        chrono.trigger()
        first, queued, third = wait_until(lambda: all_final(chrono, 3), timeout=45, message="three runs to end")
    assert [first.status, queued.status, third.status] == ["success", "success", "skipped"]
    assert queued.started_at >= first.finished_at  # it waited for the first one
    assert third.error_message.startswith(f"Skipped: run #{queued.pk} is already queued behind run #{first.pk}")
    assert len(local_server.requests_to("/slow")) == 2
