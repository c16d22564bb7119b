"""Occurrences are rows before they are messages (issue 12, item 1): beat records each due
occurrence as a pending run before publishing it, the reaper sends again what was lost and
skips what the misfire policy gave up on, and what beat itself drops is a skipped row."""

from datetime import datetime, timedelta

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automations import tasks
from automations.beat.entries import MAX_DROPPED_ROWS
from automations.beat.scheduler import ChronoScheduler
from automations.models import Chrono, ChronoRun
from automations.runs import execution, reaper
from tests.automations.test_scheduler import at, beat, clock, run_until  # noqa: F401  (fixtures)

URL = "https://hooks.example.org/rows"
GRACE_S = 60


@pytest.fixture
def sent(monkeypatch, settings):
    """The run_chrono messages the reaper enqueues (kwargs and options), instead of a broker."""
    settings.RUN_REAPER_GRACE_S = GRACE_S
    messages = []
    monkeypatch.setattr(tasks.run_chrono, "apply_async", lambda **kw: messages.append(kw))
    return messages


@pytest.fixture
def receiver():
    with responses.RequestsMock() as mock:
        mock.post(URL, json={"ok": True})
        yield mock


def hourly(make_chrono, **fields):
    return make_chrono(schedule="0 * * * *", timezone="UTC", url=URL, overlap_policy="allow", **fields)


def runs_of(chrono) -> list[tuple[datetime, str]]:
    return list(chrono.runs.order_by("scheduled_for").values_list("scheduled_for", "status"))


def last_message(scheduler, chrono) -> dict:
    return [s.kwargs for s in scheduler.publish if s.kwargs.get("chrono_id") == chrono.pk][-1]


def lose_every_message(scheduler) -> None:
    scheduler.publish = lambda *message: None  # published, then gone with the broker (or expired in it)


def reap_later(clock, minutes: float, django_capture_on_commit_callbacks) -> dict:
    clock.shift(timedelta(minutes=minutes))
    with django_capture_on_commit_callbacks(execute=True):
        return reaper.reap()


# --- beat writes the row first ---------------------------------------------------------------

def test_a_due_occurrence_is_a_pending_run_before_its_message_is_published(make_chrono, beat, clock):
    chrono = hourly(make_chrono)
    scheduler = beat()
    seen = []

    def publish(task, args, kwargs, options):
        if kwargs.get("chrono_id") == chrono.pk:
            seen.append(list(chrono.runs.values_list("scheduled_for", "status", "next_attempt_at")))

    scheduler.publish = publish
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    assert seen == [[(at(2026, 6, 1, 10), "pending", at(2026, 6, 1, 10))]]


def test_the_worker_takes_the_row_beat_recorded_instead_of_making_another(make_chrono, beat, clock, receiver):
    chrono = hourly(make_chrono)
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    message = last_message(scheduler, chrono)
    assert tasks.run_chrono(**message) == "success"
    assert runs_of(chrono) == [(at(2026, 6, 1, 10), "success")]


def test_beat_records_a_whole_burst_in_one_insert(make_chrono, beat, clock):
    # (SQLite: one prepared INSERT run for each row, which Django logs as one query.)
    for i in range(30):
        hourly(make_chrono, name=f"c{i}")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 9, 59, 59))
    clock.move_to(at(2026, 6, 1, 10, 0, 0, 100_000))
    with CaptureQueriesContext(connection) as captured:
        scheduler.tick()
    inserts = [q["sql"] for q in captured.captured_queries 
               if 'INSERT' in q["sql"] and 'INTO "automations_chronorun"' in q["sql"]]
    assert len(inserts) == 1
    assert ChronoRun.objects.filter(status="pending", scheduled_for=at(2026, 6, 1, 10)).count() == 30


def burst_in_chunks(make_chrono, beat, clock, chronos: int = 25, chunk: int = 10):
    """A beat one tick before a burst of ``chronos`` occurrences, published ``chunk`` at a time."""
    made = [hourly(make_chrono, name=f"c{i}") for i in range(chronos)]
    scheduler = beat()
    scheduler.first_publish_batch, scheduler.publish_batch = 4, chunk  # chunks of 4, 10, 10 and 1
    run_until(scheduler, clock, at(2026, 6, 1, 9, 59, 59))
    clock.move_to(at(2026, 6, 1, 10, 0, 0, 100_000))
    return scheduler, made


@pytest.mark.skipif(connection.vendor != "postgresql", reason="another PostgreSQL connection watches the commits")
@pytest.mark.django_db(transaction=True)
def test_each_chunk_of_a_burst_is_committed_before_its_first_message(make_chrono, beat, clock, settings):
    import psycopg

    scheduler, made = burst_in_chunks(make_chrono, beat, clock)
    seen = {}
    # Another connection sees only what is committed.
    with psycopg.connect(_libpq_url(settings), autocommit=True) as other:
        def publish(task, args, kwargs, options):
            if "chrono_id" in kwargs:
                seen[kwargs["chrono_id"]] = other.execute(
                    "SELECT status FROM automations_chronorun WHERE chrono_id = %s", [kwargs["chrono_id"]]).fetchall()

        scheduler.publish = publish
        scheduler.tick()
    assert seen == {chrono.pk: [("pending",)] for chrono in made}


def _libpq_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_each_chunk_is_published_with_the_policies_the_database_has_now(make_chrono, beat, clock):
    scheduler, made = burst_in_chunks(make_chrono, beat, clock)
    # Edited behind beat's back (the policy does not touch the task): the message's expiry follows the row.
    Chrono.objects.filter(pk=made[-1].pk).update(misfire_policy="catch_up", catchup_window_s=600)
    Chrono.objects.filter(pk=made[-2].pk).update(is_active=False)
    scheduler.tick()
    expiry = {s.kwargs["chrono_id"]: s.options.get("expires") for s in scheduler.publish if "chrono_id" in s.kwargs}
    assert len(expiry) == 25
    assert expiry[made[-1].pk] == at(2026, 6, 1, 10, 10)
    assert not made[-2].runs.exists()  # paused: sent (the worker says why it did not run), but no pending row
    assert ChronoRun.objects.filter(status="pending").count() == 24


def test_a_chunk_whose_statement_fails_is_still_recorded_and_sent_once(make_chrono, beat, clock, monkeypatch):
    from django.db import DatabaseError

    from automations.runs import occurrences

    scheduler, made = burst_in_chunks(make_chrono, beat, clock)
    send = occurrences.send_pending_with_policies
    calls = []

    def second_fails(cursor, due):
        calls.append(len(due))
        if len(calls) == 2:
            raise DatabaseError("the server went away")
        send(cursor, due)

    monkeypatch.setattr(occurrences, "send_pending_with_policies", second_fails)
    scheduler.tick()
    sent = [s.kwargs["chrono_id"] for s in scheduler.publish if "chrono_id" in s.kwargs]
    assert sorted(sent) == sorted(chrono.pk for chrono in made)  # each once
    assert ChronoRun.objects.filter(status="pending").count() == 25  # the rest written the slow way


def test_a_plain_periodic_task_gets_no_run_row(beat, clock, db):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="housekeeping", task="celery.backend_cleanup", interval=every)
    scheduler = beat()
    run_until(scheduler, clock, START_PLUS(30))
    assert any(s.task == "celery.backend_cleanup" for s in scheduler.publish)
    assert not ChronoRun.objects.exists()


def START_PLUS(seconds: int) -> datetime:
    return at(2026, 6, 1, 9, 55) + timedelta(seconds=seconds)


# --- a lost message -------------------------------------------------------------------------

def test_an_occurrence_whose_publish_failed_keeps_its_row_and_the_reaper_sends_it_again(
        make_chrono, beat, clock, sent, django_capture_on_commit_callbacks):
    chrono = hourly(make_chrono, misfire_policy="catch_up")
    scheduler = beat()

    def broker_down(*message):
        raise ConnectionError("broker down")

    scheduler.publish = broker_down
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    assert runs_of(chrono) == [(at(2026, 6, 1, 10), "pending")]
    assert reap_later(clock, 2, django_capture_on_commit_callbacks)["resent"] == 1
    run = chrono.runs.get()
    assert [m["kwargs"] for m in sent] == [{"chrono_id": chrono.pk, "run_id": run.pk, "attempt": 0}]


def test_a_lost_message_is_sent_again_by_the_reaper_and_runs_once(
        make_chrono, beat, clock, sent, receiver, django_capture_on_commit_callbacks):
    chrono = hourly(make_chrono)
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    original = last_message(scheduler, chrono)  # the broker lost it... or delivers it late
    reap_later(clock, 2, django_capture_on_commit_callbacks)
    assert tasks.run_chrono(**sent[0]["kwargs"]) == "success"
    assert tasks.run_chrono(**original) == "duplicate"
    assert runs_of(chrono) == [(at(2026, 6, 1, 10), "success")]
    assert len(receiver.calls) == 1


def test_the_reaper_sends_a_never_started_occurrence_with_its_policy_expiry(
        make_chrono, beat, clock, sent, django_capture_on_commit_callbacks):
    hourly(make_chrono, misfire_policy="catch_up", catchup_window_s=3600)
    scheduler = beat()
    lose_every_message(scheduler)
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    reap_later(clock, 2, django_capture_on_commit_callbacks)
    assert sent[0]["expires"] == at(2026, 6, 1, 11)


# --- an occurrence the misfire policy gave up on -----------------------------------------------

def test_an_expired_skip_occurrence_ends_skipped_with_its_reason_and_the_chronos_last_error(
        make_chrono, beat, clock, sent, django_capture_on_commit_callbacks):
    chrono = hourly(make_chrono, misfire_policy="skip")
    scheduler = beat()
    lose_every_message(scheduler)  # as a message that expired in the queue: no worker saw it
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    counts = reap_later(clock, 2, django_capture_on_commit_callbacks)
    run = chrono.runs.get()
    chrono.refresh_from_db()
    assert (counts["skipped"], counts["resent"], run.status, sent) == (1, 0, "skipped", [])
    assert run.error_message == "Skipped: not started within a minute of its time (misfire policy: skip)."
    assert (chrono.last_run_status, chrono.last_error) == ("skipped", run.error_message)


def test_a_run_once_occurrence_not_started_before_the_next_one_ends_skipped(
        make_chrono, beat, clock, sent, django_capture_on_commit_callbacks):
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC", url=URL, misfire_policy="run_once")
    scheduler = beat()
    lose_every_message(scheduler)
    run_until(scheduler, clock, at(2026, 6, 1, 10, 10, 1))
    reap_later(clock, 2, django_capture_on_commit_callbacks)  # 10:12: 10:00 was superseded, 10:10 still worth it
    assert runs_of(chrono) == [(at(2026, 6, 1, 10), "skipped"), (at(2026, 6, 1, 10, 10), "pending")]
    assert "before the next occurrence (2026-06-01T10:10:00+00:00)" in chrono.runs.order_by("scheduled_for").first().error_message
    assert [m["kwargs"]["run_id"] for m in sent] == [chrono.runs.get(scheduled_for=at(2026, 6, 1, 10, 10)).pk]


def test_a_catch_up_occurrence_past_its_window_ends_skipped(
        make_chrono, beat, clock, sent, django_capture_on_commit_callbacks):
    chrono = hourly(make_chrono, misfire_policy="catch_up", catchup_window_s=300)
    scheduler = beat()
    lose_every_message(scheduler)
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    reap_later(clock, 6, django_capture_on_commit_callbacks)
    run = chrono.runs.get()
    assert (run.status, run.error_message) == (
        "skipped", "Skipped: not started within the catch-up window of 300s after its time (misfire policy: catch up).")


def test_an_occurrence_of_a_chrono_paused_before_it_started_ends_skipped(
        make_chrono, beat, clock, sent, django_capture_on_commit_callbacks):
    chrono = hourly(make_chrono, misfire_policy="catch_up")
    scheduler = beat()
    lose_every_message(scheduler)
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    chrono.pause()
    reap_later(clock, 2, django_capture_on_commit_callbacks)
    assert chrono.runs.get().error_message == "Skipped: the chrono was paused before this occurrence started."
    assert sent == []


def test_a_worker_that_takes_the_occurrence_first_wins_over_the_reapers_skip(make_chrono, beat, clock, receiver):
    chrono = hourly(make_chrono, misfire_policy="skip")
    scheduler = beat()
    run_until(scheduler, clock, at(2026, 6, 1, 10, 0, 1))
    run = chrono.runs.get()
    assert tasks.run_chrono(**last_message(scheduler, chrono)) == "success"
    assert reaper.skip_unstarted(run, "too late", at(2026, 6, 1, 10, 2)) == 0
    assert runs_of(chrono) == [(at(2026, 6, 1, 10), "success")]


# --- what beat drops itself -------------------------------------------------------------------

def ten_minutely(make_chrono, **policy):
    return make_chrono(schedule="*/10 * * * *", timezone="UTC", url=URL, **policy)


def restart_after_a_gap(beat, clock, until: datetime):
    first = beat()
    run_until(first, clock, at(2026, 6, 1, 10, 5))
    first.close()
    clock.move_to(at(2026, 6, 1, 10, 47))  # 10:10, 10:20, 10:30, 10:40 pass with no beat
    second = beat()
    run_until(second, clock, until)
    return second


def test_occurrences_skip_drops_after_beat_was_down_are_skipped_rows_with_the_reason(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="skip")
    restart_after_a_gap(beat, clock, at(2026, 6, 1, 10, 47, 1))
    skipped = list(chrono.runs.filter(status="skipped").order_by("scheduled_for"))
    assert [r.scheduled_for for r in skipped] == [at(2026, 6, 1, 10, m) for m in (10, 20, 30, 40)]
    assert {r.error_message for r in skipped} == {"Skipped: missed while beat was not sending (misfire policy: skip)."}
    chrono.refresh_from_db()
    assert (chrono.last_run_status, chrono.last_error) == ("skipped", skipped[-1].error_message)


def test_run_once_records_the_collapsed_occurrences_as_skipped_and_sends_the_latest(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="run_once")
    second = restart_after_a_gap(beat, clock, at(2026, 6, 1, 10, 47, 1))
    assert second.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 40)]
    assert runs_of(chrono) == [(at(2026, 6, 1, 10), "pending"), (at(2026, 6, 1, 10, 10), "skipped"),
                               (at(2026, 6, 1, 10, 20), "skipped"), (at(2026, 6, 1, 10, 30), "skipped"),
                               (at(2026, 6, 1, 10, 40), "pending")]
    assert "only the latest missed occurrence (2026-06-01T10:40:00+00:00) runs" in (
        chrono.runs.get(scheduled_for=at(2026, 6, 1, 10, 30)).error_message)


def test_catch_up_records_only_what_fell_out_of_its_window(make_chrono, beat, clock):
    chrono = ten_minutely(make_chrono, misfire_policy="catch_up", catchup_window_s=25 * 60)
    restart_after_a_gap(beat, clock, at(2026, 6, 1, 10, 47, 1))  # the window reaches back to 10:22
    assert list(chrono.runs.filter(status="skipped").values_list("scheduled_for", flat=True).order_by(
        "scheduled_for")) == [at(2026, 6, 1, 10, 10), at(2026, 6, 1, 10, 20)]


def test_thousands_of_dropped_occurrences_make_at_most_a_hundred_rows_and_the_newest_counts_the_rest(
        make_chrono, beat, clock):
    chrono = make_chrono(schedule="every 1 minute", timezone="UTC", url=URL, misfire_policy="skip")
    first = beat()
    first.tick()
    first.close()
    clock.shift(timedelta(days=2))  # 2,880 minutes with no beat
    beat().tick()
    skipped = list(chrono.runs.filter(status="skipped").order_by("scheduled_for"))
    assert len(skipped) == MAX_DROPPED_ROWS
    assert skipped[-1].error_message.endswith("earlier missed occurrence(s) were skipped too, without a row each.")
    more = int(skipped[-1].error_message.split(" earlier")[0].rsplit(" ", 1)[1])
    assert more + MAX_DROPPED_ROWS in range(2870, 2881)


def test_dropped_occurrences_are_counted_as_skipped_runs(make_chrono, beat, clock):
    from automations.runs import tallies

    ten_minutely(make_chrono, misfire_policy="skip")
    restart_after_a_gap(beat, clock, at(2026, 6, 1, 10, 47, 1))
    counted = {(t.status, t.n) for t in tallies.read("runs")}
    assert ("skipped", 4) in counted


def test_past_the_dropped_backlog_each_chrono_gets_one_skipped_row_that_counts_the_rest(
        make_chrono, beat, clock, monkeypatch):
    chrono = ten_minutely(make_chrono, misfire_policy="skip")
    first = beat()
    run_until(first, clock, at(2026, 6, 1, 10, 5))
    first.close()
    clock.move_to(at(2026, 6, 1, 10, 47))
    # As if 200,000 dropped occurrences were already waiting to be written.
    monkeypatch.setattr(ChronoScheduler, "max_dropped_backlog", 0)
    beat().tick()
    skipped = list(chrono.runs.filter(status="skipped"))
    assert [r.scheduled_for for r in skipped] == [at(2026, 6, 1, 10, 40)]
    assert skipped[0].error_message.endswith("3 earlier missed occurrence(s) were skipped too, without a row each.")
