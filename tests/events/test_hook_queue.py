"""Hook runs are never dropped (issue 12, item 4): they queue behind a run in progress, up to
EVENT_QUEUE_MAX; past it the hook answers 429 with Retry-After; simultaneous hooks never collide."""

from datetime import datetime, timezone as dt_timezone

import pytest
import time_machine
from django.utils import timezone

from automations.models import ChronoRun, Event, IntegratorHook
from automations.runs import execution
from tests.events.conftest import INTEGRATOR_URL

pytestmark = pytest.mark.django_db
Status = ChronoRun.Status


@pytest.fixture
def hook(make_chrono) -> IntegratorHook:
    return IntegratorHook.rotate_token(make_chrono(url=INTEGRATOR_URL, overlap_policy="skip", timeout_ms=20_000))


def running(chrono) -> ChronoRun:
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="schedule",
                                    status=Status.RUNNING, attempt=1, started_at=timezone.now())


def test_two_hooks_in_the_same_microsecond_make_two_runs(hook, post_hook):
    with time_machine.travel(datetime(2026, 12, 2, 12, 0, tzinfo=dt_timezone.utc), tick=False):
        answers = [post_hook(hook, {"n": n}).status_code for n in (1, 2)]
    assert answers == [202, 202]
    runs = ChronoRun.objects.filter(trigger="webhook").order_by("scheduled_for")
    assert [run.input for run in runs] == [{"n": 1}, {"n": 2}]
    assert len({run.scheduled_for for run in runs}) == 2


def test_a_hook_during_a_running_run_is_queued_not_skipped(hook, post_hook, django_capture_on_commit_callbacks):
    busy = running(hook.chrono)
    with django_capture_on_commit_callbacks(execute=False):
        response = post_hook(hook, {"order": 7})
    assert response.status_code == 202
    run = ChronoRun.objects.get(trigger="webhook")
    assert execution.execute(hook.chrono_id, None, None, run.pk, 0) == execution.QUEUED
    run.refresh_from_db()
    assert run.status == Status.PENDING and run.next_attempt_at is None and f"#{busy.pk}" in run.error_message


def test_queued_hook_runs_are_released_oldest_first_as_runs_finish(hook, post_hook, django_capture_on_commit_callbacks):
    busy = running(hook.chrono)
    for n in (1, 2):
        post_hook(hook, {"n": n})
    first, second = ChronoRun.objects.filter(trigger="webhook").order_by("scheduled_for")
    for run in (first, second):
        assert execution.execute(hook.chrono_id, None, None, run.pk, 0) == execution.QUEUED
    with django_capture_on_commit_callbacks(execute=False) as sent:
        execution.finish(busy, Status.SUCCESS)
    first.refresh_from_db(), second.refresh_from_db()
    assert first.next_attempt_at is not None and second.next_attempt_at is None  # one at a time, in order
    assert len(sent) == 1


def test_a_hook_past_the_queue_cap_answers_429_with_retry_after(hook, post_hook, settings):
    settings.EVENT_QUEUE_MAX = 2
    running(hook.chrono)
    for n in (1, 2):
        post_hook(hook, {"n": n})
    for run in ChronoRun.objects.filter(trigger="webhook"):
        execution.execute(hook.chrono_id, None, None, run.pk, 0)
    response = post_hook(hook, {"n": 3})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 300 and "2 runs" in response.json()["error"]
    assert ChronoRun.objects.filter(trigger="webhook").count() == 2  # no run for work it will not do
    assert Event.objects.filter(outcome=Event.Outcome.REFUSED, detail__startswith="429").count() == 1


def test_the_allow_policy_never_queues_nor_refuses(make_chrono, post_hook, settings):
    settings.EVENT_QUEUE_MAX = 1
    hook = IntegratorHook.rotate_token(make_chrono(url=INTEGRATOR_URL, overlap_policy="allow"))
    running(hook.chrono)
    assert [post_hook(hook, {"n": n}).status_code for n in (1, 2, 3)] == [202, 202, 202]
