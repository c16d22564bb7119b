"""Per-token throttling of the inbound webhook endpoints (WEBHOOK_THROTTLE).

The API is throttled per user and per anonymous client by DRF's own throttles (settings:
API_THROTTLE_USER, API_THROTTLE_ANON). Webhook views are plain Django views, so they get
this decorator: each webhook token (or, without one, each client address) has its own
budget, and going over it answers 429 with Retry-After before the view does any work.
"""

from __future__ import annotations

import hashlib
import math
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework.throttling import SimpleRateThrottle


class WebhookTokenThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle, keyed by a hash of the webhook token."""

    scope = "webhook"

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__()

    def get_rate(self) -> str:
        return settings.WEBHOOK_THROTTLE

    def get_cache_key(self, request, view) -> str:
        # A hash, so the token itself is never written to the cache.
        ident = hashlib.sha256(self.token.encode()).hexdigest()[:32] if self.token else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


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
