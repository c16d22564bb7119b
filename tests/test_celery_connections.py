"""Before each task the worker drops a broken or old database connection (chronoflow/celery.py),
and checks a connection with a round trip only when no task used it without error just before."""

from types import SimpleNamespace

import pytest
from django.db import connection

from chronoflow import celery as worker

TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


@pytest.fixture
def checks(monkeypatch):
    """The health checks made; the connection is a fresh one that no task has used yet."""
    made = []
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as deployed: tests run with 0
    connection.close()
    monkeypatch.setattr(connection, "task_done_at", float("-inf"), raising=False)
    monkeypatch.setattr(connection, "is_usable", lambda: made.append(1) or True)
    yield made
    connection.close()  # the next test opens one with the test settings again


def one_task(query: bool = True) -> None:
    worker.drop_stale_database_connections(task=TASK)
    if query:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    worker.note_database_connections_fine(task=TASK)


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_last_task_just_used_is_not_checked_again(checks):
    connection.ensure_connection()
    one_task()
    assert len(checks) == 1  # nothing known of it yet: checked
    one_task()
    one_task()
    assert len(checks) == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_idle_past_the_recheck_time_is_checked(checks, monkeypatch):
    connection.ensure_connection()
    one_task()
    clock = worker.time.monotonic() + worker.RECHECK_AFTER_S + 0.5
    monkeypatch.setattr(worker.time, "monotonic", lambda: clock)
    one_task()
    assert len(checks) == 2


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_saw_an_error_is_checked_whatever_its_age(checks):
    connection.ensure_connection()
    one_task()
    connection.errors_occurred = True
    one_task()
    assert len(checks) == 2  # Django's own check of a connection with errors
    assert not connection.errors_occurred


def test_eager_tasks_leave_the_callers_connection_alone(checks):
    eager = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    worker.drop_stale_database_connections(task=eager)
    worker.note_database_connections_fine(task=eager)
    assert checks == []
