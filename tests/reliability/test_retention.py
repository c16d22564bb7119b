"""Point 7: retention. Finished runs past RUN_RETENTION_DAYS or beyond the newest
RUN_RETENTION_PER_CHRONO go, in batches; the periodic task and `manage.py prune_runs`
(run here as the real command, in its own process) both do it."""

import itertools
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations.models import Chrono, ChronoRun
from automations.runs import retention
from automations.tasks import prune_runs
from tests.processes import process_env

NOW = timezone.now()
_seconds = itertools.count()  # distinct occurrences across calls


@pytest.fixture
def chrono(db):
    return Chrono.objects.create(name="c", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/")


def make_runs(chrono, count: int, age_days: float = 0, status: str = "success") -> list[int]:
    base = NOW - timedelta(days=age_days)
    runs = ChronoRun.objects.bulk_create(
        ChronoRun(chrono=chrono, scheduled_for=base - timedelta(seconds=next(_seconds)), status=status)
        for _ in range(count))
    ids = [run.pk for run in runs]
    ChronoRun.objects.filter(pk__in=ids).update(created_at=base)
    return ids


def test_finished_runs_older_than_the_retention_days_are_deleted_and_recent_ones_kept(chrono, settings):
    settings.RUN_RETENTION_DAYS, settings.RUN_RETENTION_PER_CHRONO = 30, 0
    old = make_runs(chrono, 3, age_days=31)
    recent = make_runs(chrono, 2, age_days=29)
    assert retention.prune(NOW) == 3
    assert sorted(ChronoRun.objects.values_list("pk", flat=True)) == sorted(recent)
    assert not ChronoRun.objects.filter(pk__in=old).exists()


def test_pending_and_running_runs_are_never_pruned_however_old(chrono, settings):
    settings.RUN_RETENTION_DAYS, settings.RUN_RETENTION_PER_CHRONO = 1, 1
    make_runs(chrono, 2, age_days=100, status="pending")
    make_runs(chrono, 2, age_days=100, status="running")
    assert retention.prune(NOW) == 0
    assert ChronoRun.objects.count() == 4


def test_only_the_newest_runs_per_chrono_are_kept_beyond_the_per_chrono_limit(chrono, settings):
    settings.RUN_RETENTION_DAYS, settings.RUN_RETENTION_PER_CHRONO = 0, 5
    other = Chrono.objects.create(name="other", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/")
    make_runs(chrono, 8)
    make_runs(other, 4)
    newest = list(chrono.runs.order_by("-scheduled_for").values_list("pk", flat=True)[:5])
    assert retention.prune(NOW) == 3
    assert sorted(chrono.runs.values_list("pk", flat=True)) == sorted(newest)
    assert other.runs.count() == 4


def test_deletion_goes_in_batches_so_no_statement_deletes_more_than_the_batch(chrono, settings):
    settings.RUN_RETENTION_DAYS, settings.RUN_RETENTION_PER_CHRONO, settings.RUN_PRUNE_BATCH = 1, 0, 1000
    make_runs(chrono, 2500, age_days=2)
    batches = []
    with CaptureQueriesContext(connection) as queries:
        assert retention.prune(NOW, progress=lambda rule, done: batches.append(done)) == 2500
    assert batches == [1000, 2000, 2500]
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "automations_chronorun"')]
    assert deletes and all(sql.count(",") < 1000 for sql in deletes)  # no statement over one batch
    assert ChronoRun.objects.count() == 0


def test_the_periodic_prune_task_is_scheduled_and_prunes(chrono, settings):
    settings.RUN_RETENTION_DAYS, settings.RUN_RETENTION_PER_CHRONO = 30, 0
    entry = django_settings.CELERY_BEAT_SCHEDULE["automations-prune-runs"]
    assert entry["task"] == "automations.tasks.prune_runs" and entry["schedule"] == django_settings.RUN_PRUNE_INTERVAL_S
    make_runs(chrono, 2, age_days=40)
    assert prune_runs() == 2 and ChronoRun.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_prune_runs_command_reports_a_dry_run_then_deletes_with_progress(transactional_db):
    chrono = Chrono.objects.create(name="c", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/")
    make_runs(chrono, 5, age_days=40)
    make_runs(chrono, 1, age_days=1)
    env = process_env(RUN_RETENTION_DAYS="30", RUN_RETENTION_PER_CHRONO="0", RUN_PRUNE_BATCH="2")

    def command(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", "prune_runs", *args], env=env, cwd=django_settings.BASE_DIR,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    dry = command("--dry-run")
    assert "runs older than 30 days: would delete 5" in dry and "Dry run: would delete 5 run(s)." in dry
    assert ChronoRun.objects.count() == 6
    out = command()
    assert [line.strip() for line in out.splitlines() if "deleted" in line] == [
        "runs older than 30 days: deleted 2", "runs older than 30 days: deleted 4", "runs older than 30 days: deleted 5"]
    assert "Deleted 5 run(s)." in out and ChronoRun.objects.count() == 1
