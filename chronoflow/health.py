"""Health endpoints, JSON, 200 when healthy and 503 when not. No login: they show no configuration.

- ``/health``           summary for load balancers: database and broker.
- ``/health/db``        the database answers.
- ``/health/redis``     the broker answers (``/health/broker`` too: the embedded default has no Redis).
- ``/health/queues``    messages waiting in the broker; runs pending, running, failed in the last 24 h.
- ``/health/whatsapp``  each channel's status and last change; unhealthy while a channel that
                        should run is not WORKING.

Every answer has the shape ``{"status": "ok" | "unavailable", "checks": {...}, "duration_ms": n}``.
"""

import os
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import (
    api_view, authentication_classes, permission_classes, renderer_classes, throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # any driver error means "down", with its class for the operator
        return {"ok": False, "error": type(exc).__name__}


def check_broker() -> dict:
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
            return {"ok": True, "transport": "redis"}
        except redis.RedisError as exc:
            return {"ok": False, "transport": "redis", "error": type(exc).__name__}
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
    ok = os.path.isdir(folder) and os.access(folder, os.W_OK)
    return {"ok": ok, "transport": "filesystem"} if ok else {"ok": False, "transport": "filesystem", "error": "queue folder not writable"}


def broker_queue_depth() -> int:
    """Messages waiting in the workers' queue, whatever the transport (Redis, filesystem).

    Raises the transport's error when the broker cannot be reached.
    """
    from chronoflow.celery import app

    queue = app.conf.task_default_queue
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        # Not passive: Redis has no key for an empty queue, and a passive declare says "not found".
        return conn.default_channel.queue_declare(queue=queue, passive=False).message_count


def check_queues() -> dict:
    from automations.models import ChronoRun

    try:
        waiting = broker_queue_depth()
    except Exception as exc:  # unreachable broker: the counts below still help the operator
        waiting, error = None, type(exc).__name__
    else:
        error = ""
    since = timezone.now() - timedelta(hours=24)
    runs = ChronoRun.objects
    result = {
        "ok": waiting is not None,
        "waiting": waiting,
        "pending": runs.filter(status=ChronoRun.Status.PENDING).count(),
        "active": runs.filter(status=ChronoRun.Status.RUNNING).count(),
        "failed_last_24h": runs.filter(status__in=[ChronoRun.Status.FAILED, ChronoRun.Status.TIMEOUT],
                                       finished_at__gte=since).count(),
    }
    return {**result, "error": error} if error else result


def check_whatsapp() -> dict:
    from whatsapp.models import Channel

    channels = [{
        "name": channel.name,
        "session": channel.session_name,
        "provider": channel.provider,  # DEV: a development channel, not WhatsApp
        "status": channel.status,
        "should_run": channel.should_run,
        "status_changed_at": channel.status_changed_at.isoformat() if channel.status_changed_at else None,
        "last_error": channel.last_error,
    } for channel in Channel.objects.order_by("name", "pk")]
    down = [c["session"] for c in channels if c["should_run"] and c["status"] != Channel.Status.WORKING]
    waha = _check_waha() if any(c["should_run"] for c in channels) else {"checked": False}
    result = {"ok": not down and waha.get("reachable", True), "channels": channels, "waha": waha}
    return {**result, "not_working": down} if down else result


def _check_waha() -> dict:
    """WAHA itself answers (the rows alone said "ok" while WAHA was down); a short timeout."""
    from whatsapp.models import waha_client
    from whatsapp.waha import WahaError

    client = waha_client(timeout_s=settings.HEALTH_WAHA_TIMEOUT_MS / 1000)
    try:
        version = client.server_version()
    except WahaError as exc:
        return {"checked": True, "reachable": False, "error": str(exc)}
    return {"checked": True, "reachable": True, "version": str((version or {}).get("version") or "")}


def _run(check: Callable[[], dict]) -> dict:
    try:
        return check()
    except Exception as exc:  # a check that cannot even look (database down) reports, never 500s
        return {"ok": False, "error": type(exc).__name__}


def _answer(checks: dict[str, Callable[[], dict]]) -> Response:
    started = time.monotonic()
    results = {name: _run(check) for name, check in checks.items()}
    healthy = all(result["ok"] for result in results.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": results,
            "duration_ms": int((time.monotonic() - started) * 1000)}
    return Response(body, status=200 if healthy else 503)


HEALTH_RESPONSE = inline_serializer("Health", {
    "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
    "checks": serializers.DictField(child=serializers.DictField(), help_text="One object per check, each with `ok`."),
    "duration_ms": serializers.IntegerField(),
})


def health_endpoint(summary: str, checks: dict[str, Callable[[], dict]]):
    """A public GET view answering the given checks: 200 when all are ok, else 503."""

    @extend_schema(summary=summary, tags=["operations"], auth=[],
                   responses={200: HEALTH_RESPONSE, 503: OpenApiResponse(HEALTH_RESPONSE, description="Not healthy")})
    @api_view(["GET"])
    @authentication_classes([])
    @permission_classes([AllowAny])
    @throttle_classes([])  # a refused probe would read as "down" to the orchestrator
    @renderer_classes([JSONRenderer])
    def view(request: Request) -> Response:
        return _answer(checks)

    return view


health = health_endpoint("Summary: database and broker", {"database": check_database, "broker": check_broker})
health_db = health_endpoint("The database answers", {"database": check_database})
health_broker = health_endpoint("The broker (Redis, or the embedded filesystem queue) answers", {"broker": check_broker})
health_queues = health_endpoint("Messages waiting; runs pending, running and failed in the last 24 h",
                                {"database": check_database, "queues": check_queues})
health_whatsapp = health_endpoint("Each WhatsApp channel's status and last change", {"whatsapp": check_whatsapp})
