"""Beat's task messages, built with Celery's own message builder but without its per-call overhead.

``task.apply_async`` costs 0.6 to 1 ms a message on the 2-core machine, and at 5,000 chronos
due in the same second that is the whole burst (bench/scheduler.py at 300,000 chronos). Most of
it is work that gives the same answer for every message of a burst: configuration lookups that
fall through Celery's settings chain to Django's settings (about 60 us each, five a message),
routing the task name, re-declaring the queue, and ``saferepr`` of the arguments.

``Messages`` does that work once per task name (its route and options) and then, for each
message, does only what differs: Celery's ``amqp.create_task_message`` (protocol 2 headers
and body), then either
- inside ``batch()`` on kombu's Redis transport, an LPUSH into one Redis pipeline of the
  envelope kombu's own channel builds (about 0.07 ms a message), or
- elsewhere, Celery's ``amqp.send_task_message`` (kombu's publish with Celery's retry
  policy; the queue declared once per connection), about 0.17 ms.
What goes on the wire is what ``apply_async`` would send for the same call:
tests/automations/test_beat_messages.py compares the two field by field, on both paths.

Only the options beat's own messages use are taken (``headers``, ``expires``); any other
option (a PeriodicTask's queue, priority, countdown ...) returns ``NOT_HANDLED`` and the caller
uses ``apply_async``.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone
from kombu import serialization
from kombu.entity import maybe_delivery_mode
from kombu.utils.json import dumps as json_dumps

HANDLED_OPTIONS = frozenset({"headers", "expires"})
NOT_HANDLED = object()


class Messages:
    def __init__(self, app) -> None:
        self.app = app
        self._routes: dict[str, dict] = {}
        self._declared: set[tuple[int, str]] = set()  # (id of the connection, queue name)
        self._pipeline = None  # (kombu channel, Redis pipeline) inside batch() on Redis

    @contextmanager
    def batch(self, producer, size: int):
        """Messages sent inside go out together when the block ends.

        On kombu's Redis transport: one Redis pipeline of LPUSHes, each message the envelope
        kombu's own channel builds (prepare_message, then its routing fields), without
        kombu's per-message publish machinery around it. Elsewhere: kombu's publish batch.
        An exception inside, or from the flush, means which messages reached the broker is
        unknown (the caller re-sends them one by one; a second copy finds its run claimed).
        """
        if producer.connection.transport.driver_type != "redis":
            with producer.batch(max_size=size * 4 + 16):
                yield
            return
        channel = producer.channel
        with channel.conn_or_acquire() as client, client.pipeline(transaction=False) as pipeline:
            self._pipeline = (channel, pipeline)
            try:
                yield
            finally:
                self._pipeline = None
            pipeline.execute()

    def send(self, producer, task, args: tuple, kwargs: dict, options: dict):
        """Publish one message for ``task`` through ``producer``; its id, or NOT_HANDLED."""
        if not HANDLED_OPTIONS.issuperset(options):
            return NOT_HANDLED
        route = self._route(task)
        if route is None:
            return NOT_HANDLED
        task_id = str(uuid.uuid4())
        expires = options.get("expires")
        properties = {}
        if expires is not None:
            if not isinstance(expires, datetime):
                return NOT_HANDLED
            # What send_task puts in the message's properties (AMQP's per-message TTL), in seconds.
            properties["expiration"] = max((expires - timezone.now()).total_seconds(), 0)
        message = self.app.amqp.create_task_message(
            task_id, task.name, args, kwargs, expires=expires,
            reply_to=self.app.thread_oid, ignore_result=route["ignore_result"],
            argsrepr=repr(args), kwargsrepr=repr(kwargs),
        )
        headers = dict(options.get("headers") or {})
        if self._pipeline is not None:
            self._push(route, message, headers, properties)
        else:
            self._publish(producer, task, route, message, headers, properties)
        return task_id

    def _publish(self, producer, task, route: dict, message, headers: dict, properties: dict) -> None:
        """Through Celery's send_task_message (kombu's publish, Celery's retry policy)."""
        queue = route["queue"]
        key = (id(producer.connection), queue.name)
        self.app.amqp.send_task_message(
            producer, task.name, message, queue=queue,
            declare=[] if key in self._declared else None,  # None: Celery declares the queue
            serializer=route["serializer"], headers=headers, **properties,
        )
        self._declared.add(key)

    def _push(self, route: dict, message, headers: dict, properties: dict) -> None:
        """Into the Redis pipeline, as kombu's Producer.publish and Redis channel would write it."""
        channel, pipeline = self._pipeline
        task_headers, task_properties, body, _ = message
        task_headers.update(headers)
        content_type, content_encoding, data = serialization.dumps(body, serializer=route["serializer"])
        task_properties["delivery_mode"] = route["delivery_mode"]
        if "expiration" in properties:
            task_properties["expiration"] = str(int(properties["expiration"] * 1000))
        envelope = channel.prepare_message(data, 0, content_type, content_encoding, task_headers, task_properties)
        name = route["queue"].name
        channel._inplace_augment_message(envelope, "", name)  # body encoding, delivery tag and info
        pipeline.lpush(channel._q_for_pri(name, 0), json_dumps(envelope))
        expires_ms = getattr(channel, "_expires", {}).get(name)  # a queue declared with x-expires, as kombu keeps it
        if expires_ms:
            for step in channel.priority_steps:
                pipeline.pexpire(channel._q_for_pri(name, step), expires_ms)

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
        delivery_mode = maybe_delivery_mode(queue.exchange.delivery_mode or conf.task_default_delivery_mode)
        return {"queue": queue, "serializer": serializer or conf.task_serializer, "ignore_result": task.ignore_result,
                "delivery_mode": delivery_mode}
