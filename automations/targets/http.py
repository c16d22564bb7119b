"""The HTTP target: call the chrono's webhook once per attempt.

Like the original system, redirects are not followed and any 2xx or 3xx is a success.
5xx, 408, 429, connection failures and timeouts are worth retrying; other 4xx and bad
configuration are not. Receivers can dedupe retries by the ``Idempotency-Key`` header,
which is the same on every attempt at one run and different for every other run. With
HTTP_TARGET_DENY_PRIVATE the call refuses loopback, private and link-local addresses.
String values of the payload that contain ``{{`` are templates over the run's input
(automations/payload_template.py).
"""

import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from automations import payload_template
from automations.models import Chrono, ChronoRun
from automations.targets import Outcome
from chronoflow import http

ERROR_BODY_CHARS = 200
RETRY_AFTER_STATUSES = (429, 503)
MAX_RETRY_AFTER_S = 300.0  # a server asking for an hour must not park the run that long
# Fixed forever: changing it would change the keys of runs still being retried.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2a4e-9b0d-5c3e-8a71-2d4f6b8e0c13")


def deadline_s(chrono: Chrono) -> float:
    # chronoflow.http holds its total deadline inside reads too (it shuts the sockets then),
    # so an attempt takes its timeout at most; the reaper's RUN_REAPER_GRACE_S covers the rest.
    return (chrono.timeout_ms or settings.HTTP_REQUEST_TIMEOUT_MS) / 1000


def config_errors(chrono: Chrono) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not chrono.url:
        errors["url"] = [_("An HTTP chrono needs a url.")]
    elif urlsplit(chrono.url).scheme.lower() not in ("http", "https"):
        errors["url"] = [_("The url must start with http:// or https://.")]
    if chrono.method not in settings.ALLOWED_METHODS:
        errors["method"] = [_("Method %(method)r is not allowed; use one of %(allowed)s.")
                             % {"method": chrono.method, "allowed": ", ".join(settings.ALLOWED_METHODS)}]
    headers = chrono.headers
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        errors["headers"] = [_("Headers must be an object of text names to text values.")]
    return errors


def run(chrono: Chrono, run: ChronoRun, context: dict) -> Outcome:
    """Send the chrono's request and turn the answer (or its absence) into an Outcome."""
    method = (chrono.method or "").upper()
    if method not in settings.ALLOWED_METHODS:
        return Outcome(ok=False, retryable=False, result=_result(method, chrono.url),
                       error=f"Method {method!r} is not allowed; ALLOWED_METHODS is {', '.join(settings.ALLOWED_METHODS)}.")
    if not chrono.url:
        return Outcome(ok=False, retryable=False, error="An HTTP chrono needs a url.")
    if not isinstance(chrono.headers or {}, dict):
        return Outcome(ok=False, retryable=False, error="The chrono's headers must be an object of names to values.")
    timeout_ms = chrono.timeout_ms or settings.HTTP_REQUEST_TIMEOUT_MS
    try:
        payload = payload_template.render(chrono.payload, {**context, "chrono": chrono, "run": run,
                                                           "input": run.input if run.input is not None else {}})
    except payload_template.PayloadTemplateError as exc:
        return Outcome(ok=False, retryable=False, error=str(exc), result=_result(method, chrono.url))
    started = time.monotonic()
    try:
        response = http.send(method, chrono.url, headers=request_headers(chrono, run), json=payload,
                             timeout_s=timeout_ms / 1000, follow_redirects=False,
                             address_policy=http.AddressPolicy.for_http_targets())
    except http.HttpError as exc:
        elapsed_ms = int((time.monotonic() - started) * 1000)
        return Outcome(ok=False, error=exc.message, retryable=not exc.permanent, timed_out=exc.timed_out,
                       result=_result(method, chrono.url, elapsed_ms=elapsed_ms))
    return outcome_for(response, method, chrono.url)


def request_headers(chrono: Chrono, run: ChronoRun) -> dict[str, str]:
    """The chrono's headers, plus Content-Type for a payload and the run's Idempotency-Key.

    An operator's own Content-Type wins; their Idempotency-Key does not, because a fixed
    key copied from an example would make receivers drop every run after the first.
    """
    headers = {k: v for k, v in (chrono.headers or {}).items() if k.lower() != "idempotency-key"}
    if chrono.payload is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = idempotency_key(run)
    return headers


def idempotency_key(run: ChronoRun) -> str:
    """Stable for one run across all its attempts; different for any other run."""
    occurrence = f"{run.chrono_id}:{run.pk}:{run.trigger}:{run.scheduled_for.isoformat()}"
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, occurrence))


def outcome_for(response: http.HttpResponse, method: str, url: str) -> Outcome:
    """2xx/3xx succeed; any other status fails, retryably or not per its meaning."""
    ok = 200 <= response.status < 400
    retry_after = None
    if response.status in RETRY_AFTER_STATUSES and response.retry_after is not None:
        retry_after = min(response.retry_after, MAX_RETRY_AFTER_S)
    return Outcome(
        ok=ok,
        error="" if ok else f"HTTP {response.status}: {response.text[:ERROR_BODY_CHARS]}",
        retryable=not ok and http.is_retryable_status(response.status),
        http_status=response.status,
        response_snippet=response.text[: ChronoRun.SNIPPET_CHARS],
        result=_result(method, url, response.status, response.elapsed_ms, response.truncated),
        retry_after=retry_after,
    )


def _result(method: str, url: str, status: int | None = None, elapsed_ms: int | None = None,
            truncated: bool = False) -> dict:
    # Never request headers (they carry tokens); the URL without its query and user info.
    result = {"method": method, "url": _without_secrets(url), "status": status, "elapsed_ms": elapsed_ms}
    if truncated:
        result["response_truncated"] = True
    return result


def _without_secrets(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:  # IPv6 literal
            netloc = f"[{netloc}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return ""
    return f"{parts.scheme}://{netloc}{parts.path}" + ("?…" if parts.query else "")
