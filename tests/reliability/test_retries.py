"""Points 5 and 6: retries that respect the other side, and the Idempotency-Key they carry.
A real worker against a local server scripted to fail in the ways receivers fail."""

from datetime import datetime

import pytest

from automations.models import Chrono
from automations.runs import execution
from tests.localserver import Reply
from tests.processes import running, wait_until
from tests.reliability.conftest import FAST, final_run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def gap_s(attempts: list[dict], n: int) -> float:
    """Seconds between the end of attempt n and the start of attempt n + 1 (1-based)."""
    return (datetime.fromisoformat(attempts[n]["started_at"])
            - datetime.fromisoformat(attempts[n - 1]["finished_at"])).total_seconds()


def test_retry_after_is_honoured_5xx_are_retried_with_one_key_and_a_404_is_not_retried(
        http_chrono, local_server, tmp_path):
    local_server.replies("/flaky", [Reply(status=503, headers={"Retry-After": "2"}), Reply(status=500),
                                    Reply(status=200, body="ok")])
    local_server.reply("/gone", status=404, body="no such hook")
    flaky = http_chrono(local_server.url("/flaky"), name="flaky", max_attempts=3, backoff_ms=100)
    gone = http_chrono(local_server.url("/gone"), name="gone", max_attempts=3, backoff_ms=100)
    with running("worker", log_dir=tmp_path, **FAST):
        flaky.trigger()
        gone.trigger()
        ok = wait_until(lambda: final_run(flaky), timeout=90, message="the flaky run to end")
        failed = wait_until(lambda: final_run(gone), message="the 404 run to end")

    assert (ok.status, ok.attempt) == ("success", 3)
    assert [(a["attempt"], a["http_status"], a["ok"]) for a in ok.attempts] == [
        (1, 503, False), (2, 500, False), (3, 200, True)]
    assert gap_s(ok.attempts, 1) >= 2.0  # Retry-After: 2 was a floor
    keys = {r.headers["idempotency-key"] for r in local_server.requests_to("/flaky")}
    assert len(local_server.requests_to("/flaky")) == 3 and len(keys) == 1

    assert (failed.status, failed.attempt, failed.http_status) == ("failed", 1, 404)
    assert failed.error_message == "HTTP 404: no such hook" and len(failed.attempts) == 1
    assert len(local_server.requests_to("/gone")) == 1
    assert local_server.requests_to("/gone")[0].headers["idempotency-key"] not in keys


def test_backoff_doubles_per_attempt_with_up_to_half_again_of_jitter_and_is_capped(db, settings):
    settings.RUN_MAX_BACKOFF_S = 5
    chrono = Chrono(backoff_ms=1000)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0)):
        delays = {execution.retry_delay(chrono, attempt) for _ in range(200)}
        assert min(delays) >= base and max(delays) <= min(base * 1.5, 5)
        assert len(delays) > 50  # spread out, not one fixed value
    assert execution.retry_delay(chrono, 10) == 5  # capped
    assert execution.retry_delay(chrono, 1, retry_after=30) == 30  # the server's wish wins
