"""Per-token throttling of the inbound webhook endpoints (WEBHOOK_THROTTLE).

The API is throttled per user and per anonymous client by DRF's own throttles (settings:
API_THROTTLE_USER, API_THROTTLE_ANON). Webhook views are plain Django views, so they get
this decorator: each webhook token (or, without one, each client address) has its own
budget, and going over it answers 429 with Retry-After before the view does any work.

With REDIS_URL the budget is exact across every web process: one Lua script keeps each
token's sliding window (a sorted set of admission times, by Redis' own clock) and admits
or refuses in one atomic step. DRF's throttle reads the history, decides, then writes it
back, so concurrent processes each admitted against the same stale history (646 admitted
in 30 s against 600/min). Without Redis (the embedded default) DRF's throttle stays: the
cache is then per process anyway.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from functools import cache, wraps

import redis
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)

# KEYS[1]: the token's window; ARGV: window (ms), limit, a unique member.
# Returns {1, 0} when admitted, or {0, ms until the oldest admission leaves the window}.
SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


@cache
def _script(url: str):
    """One connection pool and registered script per process and Redis URL."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).register_script(SLIDING_WINDOW)


class WebhookTokenThrottle(SimpleRateThrottle):
    """A sliding window per webhook token, keyed by a hash of the token."""

    scope = "webhook"

    def __init__(self, token: str) -> None:
        self.token = token
        self.retry_after_s: float | None = None
        super().__init__()

    def get_rate(self) -> str:
        return settings.WEBHOOK_THROTTLE

    def get_cache_key(self, request, view) -> str:
        # A hash, so the token itself is never written to the cache.
        ident = hashlib.sha256(self.token.encode()).hexdigest()[:32] if self.token else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if not settings.REDIS_URL:
            return super().allow_request(request, view)
        key = "chronoflow:" + self.get_cache_key(request, view)
        try:
            admitted, wait_ms = _script(settings.REDIS_URL)(
                keys=[key], args=[int(self.duration * 1000), self.num_requests, uuid.uuid4().hex])
        except redis.RedisError as exc:
            # Fail open: a webhook refused because Redis blinked is lost; one admitted is only counted late.
            log.warning("webhook throttle: Redis unavailable (%s); admitting", type(exc).__name__)
            return True
        self.retry_after_s = int(wait_ms) / 1000
        return bool(admitted)

    def wait(self) -> float | None:
        return self.retry_after_s if settings.REDIS_URL else super().wait()


def throttle_by_token(view):
    """Decorate a webhook view taking ``token`` (URL kwarg or ?token=): 429 past WEBHOOK_THROTTLE."""

    @wraps(view)
    def throttled(request: HttpRequest, *args, **kwargs):
        token = kwargs.get("token") or request.GET.get("token") or ""
        throttle = WebhookTokenThrottle(token)
        if not throttle.allow_request(request, None):
            wait = math.ceil(throttle.wait() or 1)
            return JsonResponse({"error": f"Too many requests to this webhook; retry in {wait} s."}, status=429,
                                headers={"Retry-After": str(wait)})
        return view(request, *args, **kwargs)

    return throttled
