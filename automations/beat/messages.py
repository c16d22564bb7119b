"""Beat's task messages, built with Celery's own message builder but without its per-call overhead.

``task.apply_async`` costs 0.6 to 1 ms a message on the 2-core machine, and at 5,000 chronos
due in the same second that is the whole burst (bench/scheduler.py at 300,000 chronos). Most of
it is work that gives the same answer for every message of a burst: configuration lookups that
fall through Celery's settings chain to Django's settings (about 60 us each, five a message),
routing the task name, re-declaring the queue, and ``saferepr`` of the arguments.

``Messages`` does that work once per task name (its route and options, and the queue declared
once per connection) and then, for each message, calls only what differs: Celery's
``amqp.create_task_message`` (protocol 2 headers and body) and ``amqp.send_task_message``
(kombu's publish, with Celery's before/after_task_publish signals and retry policy), about
0.2 ms. What goes on the wire is what ``apply_async`` would send for the same call:
tests/automations/test_beat_messages.py compares the two field by field.

Only the options beat's own messages use are taken (``headers``, ``expires``); any other
option (a PeriodicTask's queue, priority, countdown ...) returns ``NOT_HANDLED`` and the caller
uses ``apply_async``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone

HANDLED_OPTIONS = frozenset({"headers", "expires"})
NOT_HANDLED = object()


class Messages:
    def __init__(self, app) -> None:
        self.app = app
        self._routes: dict[str, dict] = {}
        self._declared: set[tuple[int, str]] = set()  # (id of the connection, queue name)

    def send(self, producer, task, args: tuple, kwargs: dict, options: dict):
        """Publish one message for ``task`` through ``producer``; its id, or NOT_HANDLED."""
        if not HANDLED_OPTIONS.issuperset(options):
            return NOT_HANDLED
        route = self._route(task)
        if route is None:
            return NOT_HANDLED
        amqp = self.app.amqp
        task_id = str(uuid.uuid4())
        expires = options.get("expires")
        properties = {}
        if expires is not None:
            if not isinstance(expires, datetime):
                return NOT_HANDLED
            # What send_task puts in the message's properties (AMQP's per-message TTL), in seconds.
            properties["expiration"] = max((expires - timezone.now()).total_seconds(), 0)
        message = amqp.create_task_message(
            task_id, task.name, args, kwargs, expires=expires,
            reply_to=self.app.thread_oid, ignore_result=route["ignore_result"],
            argsrepr=repr(args), kwargsrepr=repr(kwargs),
        )
        queue = route["queue"]
        key = (id(producer.connection), queue.name)
        amqp.send_task_message(
            producer, task.name, message, queue=queue,
            declare=[] if key in self._declared else None,  # None: Celery declares the queue
            serializer=route["serializer"], headers=dict(options.get("headers") or {}), **properties,
        )
        self._declared.add(key)
        return task_id

    def _route(self, task) -> dict | None:
        """What apply_async would work out for ``task`` on every call (its queue, serializer,
        ignore_result), or None when that is more than a plain route to a named queue."""
        name = task.name
        if name not in self._routes:
            self._routes[name] = self._work_out_route(task)
        return self._routes[name]

    def _work_out_route(self, task) -> dict | None:
        conf = self.app.conf
        if conf.task_always_eager or conf.task_send_sent_event:
            return None
        options = {key: value for key, value in task._get_exec_options().items() if value is not None}
        routed = self.app.amqp.router.route(options, task.name, (), {}, None)
        queue, serializer = routed.pop("queue", None), routed.pop("serializer", None)
        if queue is None or any(routed.values()):  # an exchange, a priority ...: apply_async's job
            return None
        return {"queue": queue, "serializer": serializer, "ignore_result": task.ignore_result}
