"""manage.py chrono ... and resync_beat: the same code as the app, clear errors, non-zero exits."""

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from automations.models import Chrono, ChronoRun
from chronoflow.celery import app
from tests.processes import process_env

ORIGINAL_BODY = {"name": "Webhook teste", "cron": "in 10 min", "targetType": "HTTP",
                 "url": "https://example.org/hook", "method": "POST", "payload": {"hello": "world"}, "isActive": True}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def beat_task_names() -> set[str]:
    return set(PeriodicTask.objects.filter(name__startswith="chrono:").values_list("name", flat=True))


# --- chrono list / show ----------------------------------------------------------------------

def test_list_shows_each_chrono_with_its_schedule_in_words_and_next_run(make_chrono):
    make_chrono(name="Bom dia", schedule="todo dia às 08:00")
    out = run("chrono", "list")
    assert "Bom dia" in out and "At 08:00 AM" in out and "-03" in out


def test_list_can_show_only_paused_chronos(make_chrono):
    make_chrono(name="Running one")
    make_chrono(name="Sleeping one", is_active=False)
    out = run("chrono", "list", "--paused")
    assert "Sleeping one" in out and "Running one" not in out


def test_list_as_json_gives_the_apis_representation(make_chrono):
    chrono = make_chrono()
    [entry] = json.loads(run("chrono", "list", "--json"))
    assert entry["id"] == chrono.pk and entry["schedule_description"]["en"].startswith("At 08:00")


def test_show_prints_the_normalised_schedule_both_descriptions_and_five_fire_times(make_chrono):
    chrono = make_chrono(schedule="daily at 07:30", timezone="America/Sao_Paulo")
    out = run("chrono", "show", str(chrono.pk))
    assert "cron 30 7 * * *" in out
    assert "At 07:30 AM" in out and "Às 07:30" in out
    assert out.count("07:30:00 -03 (America/Sao_Paulo)") == 5


def test_show_notes_a_fire_time_that_a_dst_gap_moved(make_chrono):
    with time_machine.travel(datetime(2026, 3, 7, 12, 0, tzinfo=dt_timezone.utc)):
        chrono = make_chrono(schedule="30 2 * * *", timezone="America/New_York")
        out = run("chrono", "show", str(chrono.pk))
    assert "2026-03-08 03:00:00 EDT (America/New_York) — 02:30 does not exist on 2026-03-08 in America/New_York" in out
    assert out.count("does not exist") == 1


def test_show_never_prints_header_values(make_chrono):
    chrono = make_chrono(headers={"Authorization": "Bearer top-secret"})
    out = run("chrono", "show", str(chrono.pk))
    assert "Authorization: ********" in out and "top-secret" not in out


@pytest.mark.parametrize("action", ["show", "pause", "resume", "trigger", "runs"])
def test_an_unknown_chrono_id_is_an_error_naming_it(db, action):
    with pytest.raises(CommandError, match="No chrono with id 999"):
        run("chrono", action, "999")


def test_an_id_that_is_not_a_number_is_refused(db):
    with pytest.raises(CommandError, match="invalid int value: 'abc'"):
        run("chrono", "show", "abc")


def test_a_missing_subcommand_is_refused_listing_them(db):
    with pytest.raises(CommandError, match="list,show,create,pause,resume,trigger,runs"):
        run("chrono")


# --- chrono create ---------------------------------------------------------------------------

def test_create_takes_the_apis_fields_as_options_and_syncs_beat(db):
    out = run("chrono", "create", "--name", "Ping", "--schedule", "every 15 minutes", "--url", "https://example.org/h",
              "--method", "PUT", "--payload", '{"a": 1}', "--max-attempts", "2")
    chrono = Chrono.objects.get(name="Ping")
    assert f"Created chrono {chrono.pk}" in out
    assert (chrono.schedule_kind, chrono.schedule_expression, chrono.method, chrono.payload, chrono.max_attempts) == (
        "interval", "900", "PUT", {"a": 1}, 2)
    assert beat_task_names() == {f"chrono:{chrono.pk}"}


def test_create_accepts_the_original_systems_camel_case_body(db):
    run("chrono", "create", "--data", json.dumps(ORIGINAL_BODY))
    chrono = Chrono.objects.get(name="Webhook teste")
    assert chrono.schedule_kind == "once" and chrono.payload == {"hello": "world"}


def test_create_reads_the_body_from_standard_input_with_a_dash(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ORIGINAL_BODY)))
    run("chrono", "create", "--data", "-", "--name", "Overridden")
    assert Chrono.objects.get().name == "Overridden"


def test_create_refuses_bad_fields_naming_each_and_saves_nothing(db):
    with pytest.raises(CommandError) as refused:
        run("chrono", "create", "--name", "x", "--schedule", "every blue moon", "--method", "FETCH")
    message = str(refused.value)
    assert "schedule: Could not understand the schedule 'every blue moon'" in message
    assert "url: An HTTP chrono needs a url." in message and "method: Method 'FETCH' is not allowed" in message
    assert not Chrono.objects.exists() and not beat_task_names()


def test_create_refuses_an_option_that_is_not_json_naming_it(db):
    with pytest.raises(CommandError, match="--payload is not valid JSON"):
        run("chrono", "create", "--name", "x", "--schedule", "10 min", "--url", "https://e.org", "--payload", "{bad")


# --- chrono pause / resume / trigger / runs ------------------------------------------------------

def test_pause_deactivates_the_chrono_and_removes_its_beat_task(make_chrono):
    chrono = make_chrono()
    out = run("chrono", "pause", str(chrono.pk))
    chrono.refresh_from_db()
    assert "Paused chrono" in out and not chrono.is_active and not beat_task_names()


def test_resume_reactivates_the_chrono_with_its_next_run_and_beat_task(make_chrono):
    chrono = make_chrono(is_active=False)
    out = run("chrono", "resume", str(chrono.pk))
    chrono.refresh_from_db()
    assert "next run" in out and chrono.is_active and chrono.next_run_at
    assert beat_task_names() == {f"chrono:{chrono.pk}"}


def test_trigger_creates_a_manual_run_sent_to_the_workers_after_commit(make_chrono, django_capture_on_commit_callbacks):
    chrono = make_chrono()
    with django_capture_on_commit_callbacks() as callbacks:
        out = run("chrono", "trigger", str(chrono.pk))
    run_ = chrono.runs.get()
    assert f"run {run_.pk} is queued" in out and run_.trigger == "manual" and len(callbacks) == 1


def test_trigger_wait_gives_up_with_an_error_when_no_worker_takes_the_run(make_chrono):
    chrono = make_chrono()
    with pytest.raises(CommandError, match="still pending after 0.3s"):
        run("chrono", "trigger", str(chrono.pk), "--wait", "0.3")


@pytest.mark.django_db(transaction=True)
def test_trigger_wait_follows_the_run_to_success(local_server, monkeypatch):
    local_server.reply("/hook", status=200)
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the run executes here, after the commit
    chrono = Chrono.objects.create(name="Now", schedule="0 8 * * *", timezone="UTC", url=local_server.url("/hook"))
    out = run("chrono", "trigger", str(chrono.pk), "--wait", "10")
    assert "success" in out and len(local_server.requests_to("/hook")) == 1


def test_runs_lists_a_chronos_runs_newest_first_filtered_by_status(make_chrono):
    chrono = make_chrono()
    for minutes, status in ((3, "success"), (2, "failed"), (1, "failed")):
        ChronoRun.objects.create(chrono=chrono, status=status, error_message=f"boom {minutes}",
                                 scheduled_for=timezone.now() - timedelta(minutes=minutes))
    lines = run("chrono", "runs", str(chrono.pk), "--status", "failed").splitlines()
    assert len(lines) == 3 and "boom 1" in lines[1] and "boom 2" in lines[2]


def test_runs_refuses_an_unknown_status_listing_the_valid_ones(make_chrono):
    chrono = make_chrono()
    with pytest.raises(CommandError, match="invalid choice: 'exploded'.*'timeout'"):
        run("chrono", "runs", str(chrono.pk), "--status", "exploded")


@pytest.mark.django_db(transaction=True)
def test_from_the_shell_an_error_exits_non_zero_with_the_message_on_stderr():
    result = subprocess.run([sys.executable, "manage.py", "chrono", "pause", "424242"], env=process_env(),
                            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "No chrono with id 424242" in result.stderr


# --- resync_beat -------------------------------------------------------------------------------

def test_resync_beat_reports_nothing_to_change_when_beat_is_in_step(make_chrono):
    make_chrono()
    assert "nothing to change" in run("resync_beat")


def test_resync_beat_recreates_fixes_and_removes_tasks_and_names_them(make_chrono):
    missing, tampered, paused = make_chrono(name="a"), make_chrono(name="b"), make_chrono(name="c")
    PeriodicTask.objects.filter(name=f"chrono:{missing.pk}").delete()
    PeriodicTask.objects.filter(name=f"chrono:{tampered.pk}").update(enabled=False)
    Chrono.objects.filter(pk=paused.pk).update(is_active=False)  # (this update keeps beat in step itself)
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.create(name="chrono:999", task="automations.tasks.run_chrono", interval=every_minute)

    out = run("resync_beat")

    assert f"Created 1: chrono:{missing.pk}" in out
    assert f"Fixed 1: chrono:{tampered.pk}" in out
    assert "Removed 1: chrono:999" in out
    assert beat_task_names() == {f"chrono:{missing.pk}", f"chrono:{tampered.pk}"}
    assert PeriodicTask.objects.get(name=f"chrono:{tampered.pk}").enabled


def test_resync_beat_dry_run_reports_the_differences_and_changes_nothing(make_chrono):
    chrono = make_chrono()
    PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").delete()
    out = run("resync_beat", "--dry-run")
    assert f"Would create 1: chrono:{chrono.pk}" in out and "Dry run" in out
    assert not beat_task_names()


def test_resync_beat_shows_its_progress_over_many_chronos(make_chrono):
    for i in range(5):
        make_chrono(name=f"n{i}")
    out = run("resync_beat", "--chunk", "2")
    assert ["2/5", "4/5", "5/5"] == [line.split()[0] for line in out.splitlines() if "chronos checked" in line]


def test_resync_beat_refuses_a_chunk_below_one(db):
    with pytest.raises(CommandError, match="--chunk must be at least 1"):
        run("resync_beat", "--chunk", "0")


# --- ensure_admin ------------------------------------------------------------------------

def ensure_admin(*args) -> str:
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_on_an_existing_admin_says_how_to_reset_the_password(monkeypatch):
    User.objects.create_superuser("admin", password="old-pw-1")
    monkeypatch.setenv("ADMIN_PASSWORD", "new-pw-2")
    out = ensure_admin()
    assert "exists" in out and "was not applied" in out and "--reset-password" in out
    assert User.objects.get(username="admin").check_password("old-pw-1")


@pytest.mark.django_db
def test_reset_password_sets_admin_password_from_the_environment(monkeypatch):
    User.objects.create_superuser("admin", password="old-pw-1")
    monkeypatch.setenv("ADMIN_PASSWORD", "new-pw-2")
    assert "New password for admin user 'admin' (password from ADMIN_PASSWORD)" in ensure_admin("--reset-password")
    assert User.objects.get(username="admin").check_password("new-pw-2")


@pytest.mark.django_db
def test_reset_password_without_admin_password_prints_a_generated_one_once(monkeypatch):
    User.objects.create_superuser("admin", password="old-pw-1")
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    out = ensure_admin("--reset-password")
    password = out.split("with password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
