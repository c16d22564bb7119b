"""Sending a run to the workers: after the transaction commits, to the task named ``RUN_TASK``.

Every part of ChronoFlow that starts a run calls ``enqueue_run``. It finds the Celery task
by its name instead of importing ``automations.tasks``: tasks.py is the worker's entry
point, at the top of the imports, and nothing in the product imports it.
"""

import threading

from django.db import transaction

RUN_TASK = "automations.tasks.run_chrono"
_loading = threading.Lock()  # web threads: one loads the task modules, the others wait for it


def enqueue_run(run, attempt: int = 0, countdown: float = 0, expires=None) -> None:
    """Send ``run`` to the workers once the surrounding transaction has committed.

    ``expires`` (a datetime): workers drop the message from then on, unrun.
    """
    kwargs = {"chrono_id": run.chrono_id, "run_id": run.pk, "attempt": attempt}
    options = {"countdown": countdown or None}
    if expires is not None:
        options["expires"] = expires
    transaction.on_commit(lambda: run_task().apply_async(kwargs=kwargs, **options))


def run_task():
    """The registered ``run_chrono`` task (so ``task_always_eager`` and routing apply as usual)."""
    from chronoflow.celery import app  # the project's app, built after Django's settings

    if RUN_TASK not in app.tasks:
        with _loading:
            if RUN_TASK not in app.tasks:
                app.loader.import_default_modules()  # how a worker loads every app's tasks.py
    return app.tasks[RUN_TASK]
