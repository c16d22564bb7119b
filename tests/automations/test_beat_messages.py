"""Beat's own message builder sends what apply_async would send (automations.beat.messages)."""

import base64
import json
import os
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from automations.beat.messages import NOT_HANDLED, Messages
from automations.queue import RUN_TASK, run_task
from chronoflow.celery import app

# Differ between any two messages: the task's id (and what repeats it) and kombu's delivery tag.
PER_MESSAGE_HEADERS = {"id", "root_id"}
PER_MESSAGE_PROPERTIES = {"correlation_id", "delivery_tag", "expiration"}


@pytest.fixture
def broker():
    """A kombu in-memory broker: (producer, read(queue) -> the raw message published)."""
    with Connection("memory://") as connection:
        producer = connection.Producer()

        def read(queue: str):
            with connection.SimpleQueue(queue) as simple:
                return simple.get(timeout=1)

        yield producer, read


def both_ways(broker, task_name: str, kwargs: dict, options: dict):
    producer, read = broker
    task = app.tasks[task_name]
    ours = Messages(app).send(producer, task, (), kwargs, {**options, "headers": dict(options.get("headers", {}))})
    assert ours is not NOT_HANDLED
    queue = app.amqp.router.route({}, task_name, (), {}, None)["queue"].name
    mine = read(queue)
    task.apply_async((), kwargs, producer=producer, **{**options, "headers": dict(options.get("headers", {}))})
    celerys = read(queue)
    return ours, mine, celerys


def test_a_chrono_occurrence_is_the_message_apply_async_sends(broker):
    run_task()  # the task registered, as in beat
    due = timezone.now().replace(microsecond=0)
    kwargs = {"chrono_id": 7, "scheduled_for": due.isoformat()}
    options = {"headers": {"periodic_task_name": "chrono-7", "celery_beat_task": True},
               "expires": due + timedelta(minutes=1)}
    task_id, mine, celerys = both_ways(broker, RUN_TASK, kwargs, options)

    assert mine.headers["id"] == mine.headers["root_id"] == mine.properties["correlation_id"] == task_id
    assert {k: v for k, v in mine.headers.items() if k not in PER_MESSAGE_HEADERS} == \
        {k: v for k, v in celerys.headers.items() if k not in PER_MESSAGE_HEADERS}
    assert {k: v for k, v in mine.properties.items() if k not in PER_MESSAGE_PROPERTIES} == \
        {k: v for k, v in celerys.properties.items() if k not in PER_MESSAGE_PROPERTIES}
    # kombu's per-message TTL (milliseconds) from the same expiry, moments apart.
    assert abs(int(mine.properties["expiration"]) - int(celerys.properties["expiration"])) < 2000
    assert (mine.content_type, mine.content_encoding) == (celerys.content_type, celerys.content_encoding)
    assert json.loads(mine.body) == json.loads(celerys.body) == [[], kwargs, {
        "callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    assert mine.headers["expires"] == options["expires"].isoformat()
    assert mine.headers["periodic_task_name"] == "chrono-7"


def test_a_housekeeping_task_goes_to_its_own_queue_as_with_apply_async(broker):
    app.loader.import_default_modules()
    _, mine, celerys = both_ways(broker, "automations.tasks.reap_runs", {}, {"headers": {}})
    assert mine.delivery_info["routing_key"] == celerys.delivery_info["routing_key"] == "housekeeping"
    assert mine.headers["task"] == celerys.headers["task"] == "automations.tasks.reap_runs"


@pytest.mark.parametrize("options", [
    {"headers": {}, "countdown": 5},
    {"headers": {}, "queue": "elsewhere"},
    {"headers": {}, "priority": 3},
    {"headers": {}, "expires": 60},  # seconds, not a datetime
])
def test_options_beyond_beats_own_are_left_to_apply_async(broker, options):
    producer, _ = broker
    assert Messages(app).send(producer, run_task(), (), {}, options) is NOT_HANDLED


class AlwaysHeld:
    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


def test_beat_sends_a_chrono_occurrence_through_its_own_builder_not_send_task(db, broker, monkeypatch):
    from automations.beat.scheduler import ChronoScheduler

    producer, read = broker
    scheduler = ChronoScheduler(app=app, lock=AlwaysHeld())
    scheduler.__dict__["producer"] = producer  # celery's cached producer, on the in-memory broker
    monkeypatch.setattr(app, "send_task", lambda *a, **kw: pytest.fail("beat went through app.send_task"))
    try:
        kwargs = {"chrono_id": 3, "scheduled_for": timezone.now().isoformat()}
        task_id = scheduler._publish_to_broker(RUN_TASK, (), kwargs, {"headers": {"periodic_task_name": "chrono:3"}})
    finally:
        scheduler.close()
    message = read("celery")
    assert message.headers["id"] == task_id and message.headers["task"] == RUN_TASK
    assert message.headers["celery_beat_task"] is True and message.headers["periodic_task_name"] == "chrono:3"
    assert json.loads(message.body)[1] == kwargs


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis envelope needs Redis (REDIS_URL)")
def test_in_a_redis_batch_the_message_is_the_envelope_kombu_writes():
    run_task()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    due = timezone.now().replace(microsecond=0)
    kwargs = {"chrono_id": 9, "scheduled_for": due.isoformat()}
    options = {"headers": {"periodic_task_name": "chrono-9", "celery_beat_task": True},
               "expires": due + timedelta(minutes=1)}
    messages = Messages(app)
    with app.producer_or_acquire() as producer:
        with messages.batch(producer, 1):
            task_id = messages.send(producer, run_task(), (), kwargs, {**options, "headers": dict(options["headers"])})
        run_task().apply_async((), kwargs, producer=producer, **{**options, "headers": dict(options["headers"])})
    # LPUSH puts the newest first: Celery's, then ours (and nothing is left for a worker).
    celerys, mine = (json.loads(client.lpop("celery")) for _ in range(2))

    assert mine.keys() == celerys.keys()
    assert mine["headers"]["id"] == mine["properties"]["correlation_id"] == task_id
    assert {k: v for k, v in mine["headers"].items() if k not in PER_MESSAGE_HEADERS} == \
        {k: v for k, v in celerys["headers"].items() if k not in PER_MESSAGE_HEADERS}
    assert {k: v for k, v in mine["properties"].items() if k not in PER_MESSAGE_PROPERTIES} == \
        {k: v for k, v in celerys["properties"].items() if k not in PER_MESSAGE_PROPERTIES}
    assert abs(int(mine["properties"]["expiration"]) - int(celerys["properties"]["expiration"])) < 2000
    assert {k: mine[k] for k in ("content-type", "content-encoding")} == \
        {k: celerys[k] for k in ("content-type", "content-encoding")}
    assert json.loads(base64.b64decode(mine["body"])) == json.loads(base64.b64decode(celerys["body"]))


def test_a_failed_redis_batch_raises_so_beat_sends_its_messages_one_by_one(monkeypatch):
    """The flush is where Redis answers; its error must reach the caller (ChronoScheduler
    then re-sends the chunk through apply_async)."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis (REDIS_URL)")
    messages = Messages(app)
    monkeypatch.setattr(redis.client.Pipeline, "execute", lambda self, *a, **kw: (_ for _ in ()).throw(
        redis.ConnectionError("gone")))
    with app.producer_or_acquire() as producer, pytest.raises(redis.ConnectionError):
        with messages.batch(producer, 1):
            messages.send(producer, run_task(), (), {"chrono_id": 1}, {"headers": {}})
    assert messages._pipeline is None
