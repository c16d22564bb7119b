"""ChronoScheduler over a simulated window: time-machine moves the clock (and with it every
timestamp Django writes), and a recorder stands in for the broker."""

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import time_machine
from django.utils import timezone as dj_timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from automations.beat.entries import from_us
from automations.beat.scheduler import ChronoScheduler
from automations.models import Chrono
from chronoflow.celery import app

UTC = timezone.utc
START = datetime(2026, 6, 1, 9, 55, tzinfo=UTC)


class Sent(list):
    """Records what beat publishes, with the (simulated) time it did."""

    def __call__(self, task, args, kwargs, options):
        self.append(SimpleNamespace(task=task, args=args, kwargs=kwargs, options=options, at=dj_timezone.now()))

    def occurrences(self, chrono) -> list[datetime]:
        return [datetime.fromisoformat(s.kwargs["scheduled_for"]) for s in self
                if s.kwargs.get("chrono_id") == chrono.pk]


class Held:
    """A lock that is always ours."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def beat(db, clock):
    """Start a beat; every beat started in a test is closed after it."""
    started = []

    def start(lock=None) -> ChronoScheduler:
        scheduler = ChronoScheduler(app=app, lock=lock or Held(), publish=Sent())
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        scheduler.close()


def run_until(scheduler, clock, end: datetime, max_step=timedelta(seconds=60)) -> None:
    """Tick, jump to the next due time (at most a minute on), until `end`."""
    while True:
        scheduler.tick()
        now = dj_timezone.now()
        if now >= end:
            return
        queue = scheduler._queue
        target = min(from_us(queue[0][0]) if queue else end, end, now + max_step)
        clock.move_to(max(target, now + timedelta(microseconds=1)))


# Two simulated days are 11,000 ticks with the housekeeping tasks (every 15 s) in beat's queue,
# and 2,880 in steps of a minute. The tests that span days leave those tasks out (only_chronos)
# and step up to 15 minutes (never past a due time: run_until stops at the queue's head).
LONG_STEP = timedelta(minutes=15)


@pytest.fixture
def only_chronos(db):
    """Beat's queue holds the chronos alone: no reaper or other housekeeping task (beat_schedule)."""
    configured = app.conf.beat_schedule
    app.conf.beat_schedule = {}
    PeriodicTask.objects.exclude(name__startswith="chrono:").update(enabled=False)
    yield
    app.conf.beat_schedule = configured


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(start: datetime, count: int, minute: int = 0) -> list[datetime]:
    first = start.replace(minute=minute, second=0, microsecond=0)
    return [first + timedelta(hours=h) for h in range(count)]


# --- every occurrence, exactly once -----------------------------------------------------

def test_an_hourly_chrono_is_sent_once_per_hour_with_its_exact_occurrence(make_chrono, beat, clock, only_chronos):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 2, 10, 0, 30), max_step=LONG_STEP)
    assert scheduler.publish.occurrences(chrono) == hours(at(2026, 6, 1, 10), 25)


def test_beat_fires_exactly_the_times_the_admin_preview_shows(make_chrono, beat, clock):
    chronos = [make_chrono(schedule=text, timezone="America/Sao_Paulo")
               for text in ("every 7 minutes", "*/15 9-11 * * *", "weekdays at 10:30", "in 3 min")]
    expected = {c.pk: c.next_fire_times(50, after=START) for c in chronos}
    scheduler = beat()
    end = at(2026, 6, 1, 13, 0)
    run_until(scheduler, clock, end)
    for chrono in chronos:
        assert scheduler.publish.occurrences(chrono) == [t for t in expected[chrono.pk] if t <= end]


def test_an_interval_chrono_created_mid_second_is_sent_at_whole_seconds_as_its_preview_shows(
        make_chrono, beat, clock):
    clock.move_to(START + timedelta(microseconds=250_000))  # created_at carries microseconds
    chrono = make_chrono(schedule="every 7 minutes", timezone="America/Sao_Paulo")
    expected = chrono.next_fire_times(10, after=START)
    scheduler = beat()
    end = START + timedelta(minutes=50)
    run_until(scheduler, clock, end)
    sent = scheduler.publish.occurrences(chrono)
    assert sent == [t for t in expected if t <= end] and len(sent) == 7
    assert all(t.microsecond == 0 for t in sent)


def test_every_due_chrono_of_a_burst_goes_out_in_the_same_tick(make_chrono, beat, clock):
    chronos = [make_chrono(name=f"c{i}", schedule="0 10 * * *", timezone="UTC") for i in range(50)]
    scheduler = beat()
    clock.move_to(at(2026, 6, 1, 10, 0, 0, 200_000))
    scheduler.tick()
    sends = [s for s in scheduler.publish if "chrono_id" in s.kwargs]
    assert sorted(s.kwargs["chrono_id"] for s in sends) == sorted(c.pk for c in chronos)
    assert {s.kwargs["scheduled_for"] for s in sends} == {"2026-06-01T10:00:00+00:00"}


def test_a_task_that_cannot_be_sent_does_not_stop_the_others(make_chrono, beat, clock):
    broken, fine = (make_chrono(name=name, schedule="0 10 * * *", timezone="UTC") for name in ("a", "b"))
    scheduler = beat()
    recorder = scheduler.publish

    def publish(task, args, kwargs, options):
        if kwargs.get("chrono_id") == broken.pk:
            raise ConnectionError("broker said no")
        recorder(task, args, kwargs, options)

    scheduler.publish = publish
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    assert recorder.occurrences(fine) == [at(2026, 6, 1, 10)]
    assert PeriodicTask.objects.get(pk=broken.periodic_task_id).last_run_at is None  # not marked as sent


def test_a_burst_whose_broker_batch_fails_is_sent_again_one_by_one(make_chrono, beat, clock, monkeypatch):
    chronos = [make_chrono(name=f"c{i}", schedule="0 10 * * *", timezone="UTC") for i in range(3)]
    scheduler = beat()

    class FailingBatch:  # a Redis pipeline that fails at its flush: delivery of all of it uncertain
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            raise ConnectionError("pipeline lost")

    monkeypatch.setattr(scheduler, "_broker_batch", lambda size: FailingBatch())
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    for chrono in chronos:  # buffered once, then sent on its own: a duplicate message, never a lost one
        assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10)] * 2
        assert PeriodicTask.objects.get(pk=chrono.periodic_task_id).last_run_at == at(2026, 6, 1, 10)


def test_beat_sleeps_until_the_next_due_time_but_never_longer_than_half_a_second(make_chrono, beat, clock):
    make_chrono(schedule="0 10 * * *", timezone="UTC")
    scheduler = beat()
    clock.move_to(at(2026, 6, 1, 9, 59, 59, 750_000))
    assert scheduler.tick() == pytest.approx(0.25)
    clock.move_to(at(2026, 6, 1, 9, 58))
    assert scheduler.tick() == 0.5


# --- DST --------------------------------------------------------------------------------

def test_an_hourly_berlin_chrono_runs_in_both_passes_of_the_autumn_overlap(make_chrono, beat, clock):
    clock.move_to(at(2026, 10, 24, 21, 30))
    chrono = make_chrono(schedule="0 * * * *", timezone="Europe/Berlin")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 10, 25, 4, 30))
    # 00:00 CEST ... 02:00 CEST, 02:00 CET, 03:00 CET ... : every UTC hour, once.
    assert scheduler.publish.occurrences(chrono) == hours(at(2026, 10, 24, 22), 7)


def test_a_daily_berlin_chrono_at_2_30_runs_at_3_00_on_the_spring_forward_day(make_chrono, beat, clock, only_chronos):
    clock.move_to(at(2026, 3, 28, 12))
    chrono = make_chrono(schedule="30 2 * * *", timezone="Europe/Berlin")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 3, 30, 12), max_step=LONG_STEP)
    # 02:30 does not exist that night: it runs once, at 03:00 CEST (01:00 UTC).
    assert scheduler.publish.occurrences(chrono) == [at(2026, 3, 29, 1, 0), at(2026, 3, 30, 0, 30)]


def test_a_daily_berlin_chrono_at_2_30_runs_once_on_the_fall_back_day(make_chrono, beat, clock, only_chronos):
    clock.move_to(at(2026, 10, 24, 12))
    chrono = make_chrono(schedule="30 2 * * *", timezone="Europe/Berlin")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 10, 26, 12), max_step=LONG_STEP)
    # 02:30 happens twice that night: it runs at the first one (CEST, 00:30 UTC) only.
    assert scheduler.publish.occurrences(chrono) == [at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]


def test_a_beat_that_stalled_past_several_occurrences_follows_the_misfire_policy(make_chrono, beat, clock):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC", misfire_policy="run_once")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 30))
    clock.move_to(at(2026, 6, 1, 14, 20))  # the process was suspended for four hours
    scheduler.tick()
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10), at(2026, 6, 1, 14)]


# --- edits, pause, resume, delete, create -------------------------------------------------

def test_an_edit_takes_effect_at_the_next_poll_and_only_for_later_occurrences(make_chrono, beat, clock):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 10))
    chrono.schedule = "30 * * * *"
    chrono.save()
    clock.shift(1)
    scheduler.tick()
    assert scheduler.entries[chrono.periodic_task_id].next_after(chrono_us(10, 10)) == chrono_us(10, 30)
    run_until(scheduler, clock, at(2026, 6, 1, 12, 0, 30))
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10), at(2026, 6, 1, 10, 30), at(2026, 6, 1, 11, 30)]


def chrono_us(hour: int, minute: int) -> int:
    from automations.beat.entries import to_us

    return to_us(at(2026, 6, 1, hour, minute))


def test_an_edit_that_does_not_touch_the_schedule_keeps_the_next_occurrence(make_chrono, beat, clock):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC")
    other = make_chrono(name="other", schedule="*/5 * * * *", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 59, 58))
    other.schedule = "*/10 * * * *"  # a change somewhere else makes beat read changed rows
    other.save()
    chrono.name = "renamed"
    chrono.save()
    run_until(scheduler, clock, at(2026, 6, 1, 11, 0, 30))
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10), at(2026, 6, 1, 11)]


def test_a_paused_chrono_is_not_sent_and_resumes_with_the_next_occurrence(make_chrono, beat, clock):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 10))
    chrono.pause()
    run_until(scheduler, clock, at(2026, 6, 1, 12, 10))
    chrono.resume()
    run_until(scheduler, clock, at(2026, 6, 1, 13, 0, 30))
    # 11:00 and 12:00 fell inside the pause: not sent, not caught up on resume.
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10), at(2026, 6, 1, 13)]


def test_a_deleted_chrono_is_not_sent_again(make_chrono, beat, clock):
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 5))
    Chrono.objects.filter(pk=chrono.pk).delete()
    run_until(scheduler, clock, at(2026, 6, 1, 11))
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10)]
    assert chrono.periodic_task_id not in scheduler.entries


def test_a_chrono_created_while_beat_runs_fires_at_its_time(make_chrono, beat, clock):
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0))
    chrono = make_chrono(schedule="in 90 seconds", timezone="UTC")
    run_until(scheduler, clock, at(2026, 6, 1, 10, 5))
    assert scheduler.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 1, 30)]
    assert not PeriodicTask.objects.get(pk=chrono.periodic_task_id).enabled  # one-off: done


def test_a_one_shot_due_at_once_is_sent_within_two_seconds_of_its_creation(make_chrono, beat, clock):
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0))
    chrono = make_chrono(schedule="in 1 seconds", timezone="UTC")
    clock.shift(1.5)  # beat polls once a second; this one ran late by half a second
    scheduler.tick()
    assert scheduler.publish.occurrences(chrono) == [chrono.run_at]


# --- plain periodic tasks -----------------------------------------------------------------

def test_a_plain_periodic_task_is_sent_with_its_own_arguments_and_queue(beat, clock):
    every = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="cleanup", task="app.cleanup", interval=every, queue="slow",
                                args=json.dumps([1, 2]), kwargs=json.dumps({"deep": True}))
    scheduler = beat()
    run_until(scheduler, clock, START + timedelta(seconds=95))
    sends = [s for s in scheduler.publish if s.task == "app.cleanup"]
    assert [s.at - START for s in sends] == [timedelta(seconds=30 * k) for k in (1, 2, 3)]
    assert (sends[0].args, sends[0].kwargs, sends[0].options["queue"]) == ([1, 2], {"deep": True}, "slow")


def test_a_plain_periodic_task_deleted_from_the_admin_stops(beat, clock):
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.create(name="ping", task="app.ping", interval=every)
    scheduler = beat()
    run_until(scheduler, clock, START + timedelta(seconds=25))
    task.delete()
    clock.shift(1)  # beat reads changes twice a second
    run_until(scheduler, clock, START + timedelta(seconds=60))
    assert len([s for s in scheduler.publish if s.task == "app.ping"]) == 2


def test_editing_a_shared_crontab_row_in_the_admin_moves_its_tasks_from_then_on(beat, clock):
    crontab = CrontabSchedule.objects.create(minute="0", hour="*", timezone="UTC")
    PeriodicTask.objects.create(name="report", task="app.report", crontab=crontab)
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 10))
    crontab.minute = "30"
    crontab.save()  # no PeriodicTask row changes: beat finds it in its periodic full comparison
    run_until(scheduler, clock, at(2026, 6, 1, 11, 40))
    sends = [s.at for s in scheduler.publish if s.task == "app.report"]
    assert sends == [at(2026, 6, 1, 10), at(2026, 6, 1, 10, 30), at(2026, 6, 1, 11, 30)]


def test_beat_writes_when_each_task_last_ran_for_the_admin(make_chrono, beat, clock):
    chrono = make_chrono(schedule="0 * * * *", timezone="UTC")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 11, 0, 30))
    task = PeriodicTask.objects.get(pk=chrono.periodic_task_id)
    assert (task.last_run_at, task.total_run_count) == (at(2026, 6, 1, 11), 2)
