"""Baseline tasks for bench/throughput.py, loaded into the worker with ``--include``.

Both run under ChronoFlow's own Celery settings (acks_late, prefetch 1, the same pool), so the
only difference from ``run_chrono`` is what the task body does.
"""

import time

import requests
from celery import shared_task
from django.db import connection

from bench.throughput import DONE_KEY, redis_client


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    """Does nothing; its completion time goes to a Redis list (one RPUSH)."""
    redis_client().rpush(DONE_KEY, time.time())


@shared_task(name="bench.post_insert", ignore_result=True)
def post_insert(url: str, n: int) -> None:
    """What a hand-written webhook task does: POST to the receiver, then one INSERT of the outcome."""
    response = requests.post(url, json={"n": n}, timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_outcome (n, status, finished_at) VALUES (%s, %s, %s)",
                       [n, response.status_code, time.time()])
