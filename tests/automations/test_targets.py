"""The target registry: a new target is one module and one registry line.

This test module is itself a throwaway target ("ECHO"): ``run``, ``deadline_s`` and
``config_errors`` below are all a target needs for run_chrono, the reaper and Chrono.clean.
"""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from automations import targets
from automations.models import ChronoRun
from automations.runs import execution

pytestmark = pytest.mark.django_db


def run(chrono, run, context) -> targets.Outcome:
    return targets.Outcome(ok=True, result={"echo": run.input, "chrono": chrono.name})


def deadline_s(chrono) -> float:
    return 42.0


def config_errors(chrono) -> dict[str, list[str]]:
    return {} if chrono.name.startswith("echo") else {"name": ["An ECHO chrono's name starts with 'echo'."]}


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setitem(targets.REGISTRY, "ECHO", __name__)  # the one line a new target needs


def test_a_chrono_runs_through_a_target_registered_in_one_line(echo, make_chrono):
    chrono = make_chrono(name="echo me", target_type="ECHO", url="")
    run_ = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual", input={"hi": 1})
    assert execution.execute(chrono.pk, None, None, run_.pk, 0) == ChronoRun.Status.SUCCESS
    run_.refresh_from_db()
    assert run_.status == ChronoRun.Status.SUCCESS and run_.result == {"echo": {"hi": 1}, "chrono": "echo me"}


def test_the_reaper_reads_the_deadline_from_the_target(echo, make_chrono):
    assert targets.deadline_s(make_chrono(target_type="ECHO")) == 42.0


def test_chrono_clean_reports_the_targets_own_configuration_errors(echo, make_chrono):
    chrono = make_chrono(name="not an echo", target_type="ECHO", url="")
    with pytest.raises(ValidationError) as refused:
        chrono.clean()
    assert refused.value.message_dict == {"name": ["An ECHO chrono's name starts with 'echo'."]}


def test_an_unregistered_target_type_fails_the_run_and_names_the_type(make_chrono):
    chrono = make_chrono(target_type="NOPE")
    run_ = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual")
    execution.execute(chrono.pk, None, None, run_.pk, 0)
    run_.refresh_from_db()
    assert run_.status == ChronoRun.Status.FAILED and "NOPE" in run_.error_message
