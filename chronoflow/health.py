"""GET /health: is the database reachable, is the broker reachable. JSON, 200 or 503."""

import os
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


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


@require_GET
def health(request):
    started = time.monotonic()
    checks = {"database": check_database(), "broker": check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks,
            "duration_ms": int((time.monotonic() - started) * 1000)}
    return JsonResponse(body, status=200 if healthy else 503)
