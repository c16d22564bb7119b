"""The Celery application. Tasks live in each app's tasks.py."""

import os
import time

from celery import Celery, signals
from kombu import transport as kombu_transports

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoflow.settings")
# redis:// and rediss:// broker URLs get kombu's Redis transport with a fix for broker outages.
kombu_transports.TRANSPORT_ALIASES.update({"redis": "chronoflow.broker:Transport", "rediss": "chronoflow.broker:Transport"})

app = Celery("chronoflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A connection the previous task on this thread used without an error this recently is not
# checked again with a round trip (CONN_HEALTH_CHECKS' SELECT 1, one of a run's seven): a
# busy worker would pay it before every run. If the database went away meanwhile, the task's
# first query fails and run_chrono waits it out (automations/tasks.py), as after any cut.
RECHECK_AFTER_S = 1.0


@signals.task_prerun.connect
def drop_stale_database_connections(task=None, **kwargs) -> None:
    """What Django does before each request, before each task: a connection that is broken,
    or older than CONN_MAX_AGE (SQLite: always), is closed and the task opens a fresh one.
    Not for eager tasks (tests, the caller's own connection and transaction)."""
    from django.db import connections

    if _is_eager(task):
        return
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        fine = not connection.errors_occurred and now - getattr(connection, "task_done_at", -RECHECK_AFTER_S) < RECHECK_AFTER_S
        connection.close_if_unusable_or_obsolete()
        if fine and connection.connection is not None:
            connection.health_check_done = True


@signals.task_postrun.connect
def note_database_connections_fine(task=None, **kwargs) -> None:
    """When each connection of this thread was last left by a task (see RECHECK_AFTER_S)."""
    from django.db import connections

    if _is_eager(task):
        return
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        connection.task_done_at = now


def _is_eager(task) -> bool:
    return task is not None and getattr(task.request, "is_eager", False)
