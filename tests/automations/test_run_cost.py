"""A run costs few database statements (issue 12): the claim is one conditional write, the
outcome one transaction, and a chrono without an alert policy asks nothing about alerts."""

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations.models import AlertPolicy, Chrono, ChronoRun
from automations.runs import execution

URL = "https://hooks.example.org/cost"


def statements(run: ChronoRun) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert execution.execute(run.chrono_id, None, None, run.pk, 0) == ChronoRun.Status.SUCCESS
    # BEGIN/COMMIT/SAVEPOINT are round trips too: count them.
    return [q["sql"] for q in captured.captured_queries]


def pending_run(make_chrono, **fields) -> ChronoRun:
    chrono = make_chrono(schedule="manual", url=URL, **fields)
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual")


@pytest.fixture
def receiver():
    with responses.RequestsMock() as mock:
        mock.post(URL, json={"ok": True})
        yield mock


@pytest.mark.django_db(transaction=True)
def test_an_http_run_under_the_allow_policy_is_a_handful_of_statements(make_chrono, receiver):
    sql = statements(pending_run(make_chrono, overlap_policy=Chrono.Overlap.ALLOW))
    # read run + chrono + alert policy; claim; re-read the attempt history; outcome, tallies, chrono summary.
    assert len(sql) <= 8, sql
    # PostgreSQL sends its lock in the same round trip as the read and the claim, conditional on
    # the policy: under allow it matches, and so locks, no row.
    assert all("overlap_policy <>" in s for s in sql if "FOR UPDATE" in s), sql
    assert not any("automations_alertpolicy" in s and s.startswith("SELECT") and "JOIN" not in s for s in sql)


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's data-modifying WITH")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_outcome_is_one_statement_outside_any_transaction(make_chrono, receiver):
    run = pending_run(make_chrono, overlap_policy=Chrono.Overlap.ALLOW)
    sql = statements(run)
    writes = [s for s in sql if s.startswith(("UPDATE", "INSERT", "WITH"))]
    assert len(writes) == 2, writes  # the claim, then run + chrono summary + tallies together
    assert writes[1].startswith("WITH") and "automations_runtally" in writes[1] and "automations_chrono" in writes[1]
    assert not any(s in ("BEGIN", "COMMIT") or s.startswith("SAVEPOINT") for s in sql), sql
    run.refresh_from_db()
    run.chrono.refresh_from_db()
    assert (run.status, run.chrono.last_run_status) == ("success", "success")
    from automations.models import RunTally
    assert RunTally.objects.filter(hour=RunTally.ALL_TIME, metric="runs", status="success").get().n == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_outcome_whose_claim_was_recovered_meanwhile_writes_nothing(make_chrono):
    from automations.models import RunTally

    run = pending_run(make_chrono, overlap_policy=Chrono.Overlap.ALLOW)
    run = ChronoRun.objects.select_related("chrono").get(pk=run.pk)
    run.status, run.attempt, run.started_at = "running", 1, timezone.now()
    run.save()
    ChronoRun.objects.filter(pk=run.pk).update(attempt=2)  # the reaper gave our attempt up and sent another
    with pytest.raises(execution.Superseded):
        execution.finish(run, ChronoRun.Status.SUCCESS, claimed_attempt=1)
    run.chrono.refresh_from_db()
    assert run.chrono.last_run_status == ""
    assert not RunTally.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_skip_policy_adds_only_the_chrono_lock_around_the_claim(make_chrono, receiver):
    sql = statements(pending_run(make_chrono, overlap_policy=Chrono.Overlap.SKIP))
    assert len(sql) <= 11, sql
    locks = [s for s in sql if "FOR UPDATE" in s or "BEGIN IMMEDIATE" in s]
    assert all("ORDER BY" not in s for s in locks), locks


@pytest.mark.django_db(transaction=True)
def test_a_chrono_with_an_alert_policy_still_counts_the_run(make_chrono, receiver):
    run = pending_run(make_chrono, overlap_policy=Chrono.Overlap.ALLOW)
    policy = AlertPolicy.objects.create(chrono=run.chrono, after_failures=1, webhook_url="https://alerts.example.org/x",
                                        consecutive_failures=2)
    statements(run)
    policy.refresh_from_db()
    assert policy.consecutive_failures == 0  # a success resets the count: after_run ran


def scheduled_statements(chrono: Chrono, due) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        result = execution.execute(chrono.pk, due, None, None, 0)
    return result, [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_an_occurrence_beat_recorded_is_found_with_its_chrono_in_one_query(make_chrono, receiver):
    from automations.runs import occurrences

    chrono = make_chrono(schedule="0 * * * *", url=URL, overlap_policy=Chrono.Overlap.ALLOW)
    due = timezone.now().replace(microsecond=0)
    occurrences.record_pending([(chrono.pk, due)])
    for _ in range(2):  # the second run uses the query compiled by the first
        result, sql = scheduled_statements(chrono, due)
        assert result == ChronoRun.Status.SUCCESS
        assert sql[0].startswith("SELECT") and "automations_chrono" in sql[0] and "automations_integratorhook" in sql[0]
        assert not any("SAVEPOINT" in s for s in sql), sql  # no get_or_create: the row was found
        assert len(sql) <= 7, sql
        ChronoRun.objects.filter(chrono=chrono).delete()
        occurrences.record_pending([(chrono.pk, due)])
    run = ChronoRun.objects.get(chrono=chrono)
    assert run.status == ChronoRun.Status.PENDING  # recorded again after the last run was deleted


@pytest.mark.django_db(transaction=True)
def test_a_recorded_occurrence_of_a_paused_chrono_does_not_run(make_chrono, receiver):
    from automations.runs import occurrences

    receiver.assert_all_requests_are_fired = False  # nothing is sent, which is the point
    chrono = make_chrono(schedule="0 * * * *", url=URL)
    due = timezone.now().replace(microsecond=0)
    occurrences.record_pending([(chrono.pk, due)])
    chrono.pause()
    assert execution.execute(chrono.pk, due, None, None, 0) == "no-op"
    assert len(receiver.calls) == 0


# --- PostgreSQL: read, lock and claim in one round trip -----------------------------------------

def _libpq_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_beat_occurrence_is_read_locked_and_claimed_in_one_pipeline_sync(make_chrono, receiver, monkeypatch):
    import psycopg

    from automations.runs import occurrences

    chrono = make_chrono(schedule="0 * * * *", url=URL, overlap_policy=Chrono.Overlap.SKIP)
    due = timezone.now().replace(microsecond=0)
    occurrences.record_pending([(chrono.pk, due)])
    syncs = []
    real_sync = psycopg.Pipeline.sync
    monkeypatch.setattr(psycopg.Pipeline, "sync", lambda self: (syncs.append(1), real_sync(self))[1])
    result, sql = scheduled_statements(chrono, due)
    assert result == ChronoRun.Status.SUCCESS
    assert len(syncs) == 1  # one round trip for the three statements below
    assert sql[0].startswith("SELECT") and "automations_integratorhook" in sql[0]  # the run with its chrono
    assert "FOR UPDATE" in sql[1] and sql[2].startswith("UPDATE") and "RETURNING" in sql[2]
    assert sql[3].startswith("WITH") and len(sql) == 4, sql  # then the outcome, and nothing else
    assert not any(s in ("BEGIN", "COMMIT") for s in sql)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_claim_that_waits_for_the_chrono_lock_sees_the_run_started_meanwhile(make_chrono, receiver, settings):
    """The skip policy holds across connections: the claim's statement runs after the lock is
    granted, with its own snapshot, so it sees the run another worker claimed while it waited."""
    import threading

    import psycopg
    from django.db import connections

    from automations.runs import occurrences

    receiver.assert_all_requests_are_fired = False
    chrono = make_chrono(schedule="* * * * *", url=URL, overlap_policy=Chrono.Overlap.SKIP)
    earlier, due = timezone.now().replace(second=0, microsecond=0) - timezone.timedelta(minutes=1), \
        timezone.now().replace(second=0, microsecond=0)
    occurrences.record_pending([(chrono.pk, earlier), (chrono.pk, due)])
    first = ChronoRun.objects.get(chrono=chrono, scheduled_for=earlier)
    outcome = {}

    def deliver():
        try:
            outcome["result"] = execution.execute(chrono.pk, due, None, None, 0)
        finally:
            connections.close_all()

    with psycopg.connect(_libpq_url(settings)) as other:  # another worker, mid-claim of the earlier run
        other.execute("SELECT 1 FROM automations_chrono WHERE id = %s FOR UPDATE", [chrono.pk])
        other.execute("UPDATE automations_chronorun SET status = 'running', attempt = 1, started_at = now() "
                      "WHERE id = %s", [first.pk])
        worker = threading.Thread(target=deliver)
        worker.start()
        with psycopg.connect(_libpq_url(settings), autocommit=True) as watcher:
            for _ in range(100):  # until the delivery waits for the lock
                if watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()").fetchone()[0]:
                    break
                worker.join(0.05)
            else:
                pytest.fail("the delivery never waited for the chrono's lock")
        other.commit()
    worker.join(10)
    assert outcome == {"result": ChronoRun.Status.SKIPPED}
    run = ChronoRun.objects.get(chrono=chrono, scheduled_for=due)
    assert run.status == "skipped" and f"run #{first.pk} is still in progress" in run.error_message
    assert len(receiver.calls) == 0


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_delivery_of_an_attempt_already_claimed_is_a_duplicate_after_one_round_trip(make_chrono, receiver):
    run = pending_run(make_chrono, overlap_policy=Chrono.Overlap.SKIP)
    assert execution.execute(run.chrono_id, None, None, run.pk, 0) == ChronoRun.Status.SUCCESS
    assert execution.execute(run.chrono_id, None, None, run.pk, 0) == "duplicate"
    assert len(receiver.calls) == 1
