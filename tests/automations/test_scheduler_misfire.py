"""Misfire policies: beat is stopped across several fire times (the simulated clock moves on
while no scheduler exists), then a new one starts."""

from datetime import timedelta

from django_celery_beat.models import PeriodicTask

from automations.models import Chrono
from tests.automations.test_scheduler import Sent, at, beat, clock, run_until  # noqa: F401  (fixtures)


def stop(scheduler) -> None:
    scheduler.close()


def ten_minutely(make_chrono, **policy) -> Chrono:
    return make_chrono(schedule="*/10 * * * *", timezone="UTC", **policy)


def test_skip_drops_the_occurrences_missed_while_beat_was_stopped(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="skip")
    first = beat()
    run_until(first, clock, at(2026, 6, 1, 10, 5))
    stop(first)
    clock.move_to(at(2026, 6, 1, 10, 47))  # 10:10, 10:20, 10:30, 10:40 pass with no beat
    second = beat()
    run_until(second, clock, at(2026, 6, 1, 11, 0, 30))
    assert first.publish.occurrences(chrono) == [at(2026, 6, 1, 10)]
    assert second.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 50), at(2026, 6, 1, 11)]


def test_run_once_sends_only_the_latest_missed_occurrence_at_start(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="run_once")
    first = beat()
    run_until(first, clock, at(2026, 6, 1, 10, 5))
    stop(first)
    clock.move_to(at(2026, 6, 1, 10, 47))
    second = beat()
    second.tick()
    assert second.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 40)]


def test_catch_up_sends_each_missed_occurrence_inside_the_window_and_no_older(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="catch_up", catchup_window_s=25 * 60)
    first = beat()
    run_until(first, clock, at(2026, 6, 1, 10, 5))
    stop(first)
    clock.move_to(at(2026, 6, 1, 10, 47))  # the window reaches back to 10:22
    second = beat()
    run_until(second, clock, at(2026, 6, 1, 10, 50, 30))
    assert second.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 30), at(2026, 6, 1, 10, 40),
                                                  at(2026, 6, 1, 10, 50)]


def test_a_restarted_beat_does_not_send_again_what_was_sent_before_it_stopped(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="catch_up")
    first = beat()
    run_until(first, clock, at(2026, 6, 1, 10, 20, 1))
    stop(first)
    clock.shift(2)
    second = beat()
    run_until(second, clock, at(2026, 6, 1, 10, 30, 1))
    assert first.publish.occurrences(chrono) + second.publish.occurrences(chrono) == [
        at(2026, 6, 1, 10), at(2026, 6, 1, 10, 10), at(2026, 6, 1, 10, 20), at(2026, 6, 1, 10, 30)]


def test_a_one_shot_that_came_due_while_beat_was_stopped_runs_at_start(make_chrono, beat, clock):
    chrono = make_chrono(schedule="in 10 min", timezone="UTC")
    clock.shift(timedelta(minutes=30))
    scheduler = beat()
    scheduler.tick()
    assert scheduler.publish.occurrences(chrono) == [chrono.run_at]
    assert not PeriodicTask.objects.get(pk=chrono.periodic_task_id).enabled


def test_a_one_shot_missed_by_a_skip_chrono_does_not_run(make_chrono, beat, clock):
    chrono = make_chrono(schedule="in 10 min", timezone="UTC", misfire_policy="skip")
    clock.shift(timedelta(minutes=30))
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 11))
    assert scheduler.publish.occurrences(chrono) == []


def test_a_late_start_within_the_grace_still_sends_the_occurrence_with_skip(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="skip")
    clock.move_to(at(2026, 6, 1, 10, 0, 3))  # three seconds late is late, not missed
    scheduler = beat()
    scheduler.tick()
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10)]


# --- the same policies for messages waiting in the queue while workers are down ---------

def sent_options(scheduler, chrono):
    return [s.options for s in scheduler.publish if s.kwargs.get("chrono_id") == chrono.pk]


def test_a_run_once_message_expires_when_the_next_occurrence_supersedes_it(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="run_once")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    assert sent_options(scheduler, chrono)[0]["expires"] == at(2026, 6, 1, 10, 10)


def test_a_skip_message_expires_a_minute_after_its_occurrence(make_chrono, beat, clock):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC", misfire_policy="skip")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    assert sent_options(scheduler, chrono)[0]["expires"] == at(2026, 6, 1, 10, 1)


def test_a_catch_up_message_expires_at_the_end_of_the_catch_up_window(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="catch_up", catchup_window_s=7200)
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    assert sent_options(scheduler, chrono)[0]["expires"] == at(2026, 6, 1, 12)


def test_a_one_shot_run_once_message_never_expires(make_chrono, beat, clock):
    chrono = make_chrono(schedule="in 2 min", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10))
    assert "expires" not in sent_options(scheduler, chrono)[0]


def test_changing_only_the_misfire_policy_applies_to_the_next_message(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="run_once")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 5))
    chrono.misfire_policy, chrono.catchup_window_s = "catch_up", 600
    chrono.save()  # the PeriodicTask does not change: beat re-reads policies as it sends
    run_until(scheduler, clock, at(2026, 6, 1, 10, 10, 1))
    assert sent_options(scheduler, chrono)[-1]["expires"] == at(2026, 6, 1, 10, 20)
