"""The "manual" schedule: event-driven chronos that beat never fires on its own."""

from datetime import datetime, timezone

import pytest
from django_celery_beat.models import PeriodicTask

from automations import schedule as sched
from automations.models import ChronoRun

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["manual", "Manual", "on trigger", "sob demanda", "nunca", "never", "manualmente"])
def test_manual_is_understood_in_english_and_portuguese(text):
    assert sched.parse(text, "UTC", NOW) == sched.MANUAL


def test_a_manual_schedule_never_fires():
    assert sched.next_fire_times(sched.MANUAL, "UTC", NOW, 5) == []
    assert sched.previous_fire_time(sched.MANUAL, "UTC", NOW) is None


def test_a_manual_schedule_is_described_in_both_languages():
    assert sched.describe(sched.MANUAL, "UTC") == "Only when triggered (run now, webhook or message)"
    assert sched.describe(sched.MANUAL, "UTC", "pt_BR").startswith("Só quando acionado")


@pytest.mark.django_db
def test_a_manual_chrono_has_no_beat_task_but_still_runs_when_triggered(make_chrono):
    chrono = make_chrono(schedule="manual")

    assert (chrono.schedule_kind, chrono.next_run_at, chrono.is_recurring) == ("manual", None, True)
    assert not PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").exists()
    assert chrono.trigger().trigger == ChronoRun.Trigger.MANUAL


@pytest.mark.django_db
def test_switching_a_chrono_to_manual_removes_its_beat_task(make_chrono):
    chrono = make_chrono(schedule="daily at 08:00")
    assert PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").exists()

    chrono.schedule = "manual"
    chrono.save()

    assert not PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").exists()
