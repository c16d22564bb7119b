"""The command lines of ChronoFlow's three processes.

`manage.py runall` and the integration tests start exactly these, so the tests exercise
what an operator runs.
"""

import sys

from django.conf import settings


def celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "chronoflow", *args]


def worker_command(concurrency: int | None = None, loglevel: str = "info",
                   queues: tuple[str, ...] | None = None, pool: str | None = None) -> list[str]:
    """One worker for runs and housekeeping (the embedded default); compose splits the two queues.

    Pool and concurrency come from WORKER_POOL / WORKER_CONCURRENCY unless given.
    """
    queues = queues or (settings.RUN_QUEUE, settings.HOUSEKEEPING_QUEUE)
    # Gossip, mingle and heartbeats only matter across many workers; skipping them makes
    # start-up fast on the embedded default.
    return celery("worker", "-l", loglevel, "-P", pool or settings.WORKER_POOL,
                  "-c", str(concurrency or settings.WORKER_CONCURRENCY), "-Q", ",".join(queues),
                  "--without-gossip", "--without-mingle", "--without-heartbeat")


def beat_command(loglevel: str = "info") -> list[str]:
    return celery("beat", "-l", loglevel, "-S", settings.CELERY_BEAT_SCHEDULER, "--pidfile=")


def web_command(host: str, port: int) -> list[str]:
    # No access log: webhook URLs carry their secret token in the path, and gunicorn's
    # access log does not pass through Django's redacting log filter.
    # Threads (gthread): a request that waits, such as a hook's ?wait=1, holds one thread, not a whole worker.
    return [sys.executable, "-m", "gunicorn", "chronoflow.wsgi", "-b", f"{host}:{port}",
            "--workers", str(settings.WEB_WORKERS), "--worker-class", "gthread", "--threads", str(settings.WEB_THREADS)]
