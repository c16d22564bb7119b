"""The reaper and stale claims, step by step (the real-process tests show them end to end)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from automations import tasks
from automations.models import Chrono, ChronoRun
from automations.runs import execution, reaper
from tests.processes import wait_until

pytestmark = pytest.mark.django_db
LONG_AGO = timezone.now() - timedelta(hours=1)


@pytest.fixture
def sent(monkeypatch):
    """The run_chrono messages enqueued, instead of sending them to a broker."""
    messages = []
    monkeypatch.setattr(tasks.run_chrono, "apply_async", lambda **kw: messages.append(kw["kwargs"]))
    return messages


@pytest.fixture
def chrono(settings):
    settings.RUN_REAPER_GRACE_S = 60
    return Chrono.objects.create(name="c", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/",
                                 timeout_ms=1000, max_attempts=3, backoff_ms=0)


def a_run(chrono, **fields) -> ChronoRun:
    occurrence = LONG_AGO - timedelta(seconds=ChronoRun.objects.count())
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=occurrence, trigger="manual", **fields)


def test_a_redelivery_that_finds_a_stale_claim_records_the_attempt_as_lost_and_retries(chrono, sent,
                                                                                      django_capture_on_commit_callbacks):
    run = a_run(chrono, status="running", attempt=1, started_at=LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        assert execution.execute(chrono.pk, None, None, run.pk, 0) == "retrying"
    run.refresh_from_db()
    assert (run.status, run.attempt, run.attempts[0]["lost"]) == ("pending", 1, True)
    assert sent == [{"chrono_id": chrono.pk, "run_id": run.pk, "attempt": 1}]


def test_a_redelivery_that_finds_a_fresh_claim_does_nothing(chrono, sent):
    run = a_run(chrono, status="running", attempt=1, started_at=timezone.now())
    assert execution.execute(chrono.pk, None, None, run.pk, 0) == "duplicate"
    run.refresh_from_db()
    assert (run.status, run.attempts, sent) == ("running", [], [])


def test_the_reaper_times_out_a_lost_last_attempt_and_says_so_on_the_chrono(chrono, sent):
    run = a_run(chrono, status="running", attempt=3, started_at=LONG_AGO)
    assert reaper.reap()["timed_out"] == 1
    run.refresh_from_db()
    chrono.refresh_from_db()
    assert (run.status, chrono.last_run_status) == ("timeout", "timeout")
    # 61 s: the 1 s timeout (chronoflow.http holds it inside reads) plus the 60 s grace.
    assert chrono.last_error.startswith("Timed out: attempt 3 was lost: no result 61s after it started")


def test_an_overdue_pending_run_is_sent_again_once_per_grace(chrono, sent, django_capture_on_commit_callbacks):
    run = a_run(chrono, next_attempt_at=LONG_AGO)
    a_run(chrono, next_attempt_at=timezone.now())  # not overdue
    with django_capture_on_commit_callbacks(execute=True):
        assert reaper.reap()["resent"] == 1
        assert reaper.reap()["resent"] == 0  # its grace starts over
    assert sent == [{"chrono_id": chrono.pk, "run_id": run.pk, "attempt": 0}]


def test_a_run_queued_behind_one_that_vanished_is_released(chrono, sent, django_capture_on_commit_callbacks):
    queued = a_run(chrono, next_attempt_at=None)
    ChronoRun.objects.filter(pk=queued.pk).update(created_at=LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        assert reaper.reap()["resent"] == 1
    assert sent == [{"chrono_id": chrono.pk, "run_id": queued.pk, "attempt": 0}]


def test_the_reaper_is_on_beats_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["automations-reap-runs"]
    assert entry["task"] == "automations.tasks.reap_runs" and entry["schedule"] == settings.RUN_REAPER_INTERVAL_S


@pytest.mark.django_db(transaction=True)
def test_an_attempt_that_ends_after_it_was_given_up_as_lost_leaves_the_run_to_its_successor(local_server, sent):
    local_server.reply("/slow", status=200, delay=1)
    chrono = Chrono.objects.create(name="c", schedule="0 0 1 1 *", timezone="UTC", url=local_server.url("/slow"),
                                   max_attempts=3, backoff_ms=0)
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=LONG_AGO, trigger="manual")

    def reap_while_it_runs():
        wait_until(lambda: local_server.requests_to("/slow"), message="the attempt to start")
        reaper.reap(now=timezone.now() + timedelta(hours=1))  # as seen an hour later
        connection.close()

    reaping = threading.Thread(target=reap_while_it_runs)
    reaping.start()
    assert execution.execute(chrono.pk, None, None, run.pk, 0) == "superseded"
    reaping.join()
    run.refresh_from_db()
    assert (run.status, run.attempt, [a["lost"] for a in run.attempts]) == ("pending", 1, [True])
    assert sent[0] == {"chrono_id": chrono.pk, "run_id": run.pk, "attempt": 1}  # the successor attempt
