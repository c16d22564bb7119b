"""The Celery application. Tasks live in each app's tasks.py."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoflow.settings")

app = Celery("chronoflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def drop_stale_database_connections(task=None, **kwargs) -> None:
    """What Django does before each request, before each task: a connection that is broken,
    or older than CONN_MAX_AGE (SQLite: always), is closed and the task opens a fresh one.
    Not for eager tasks (tests, the caller's own connection and transaction)."""
    from django.db import connections

    if task is not None and getattr(task.request, "is_eager", False):
        return

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
