"""Integrator webhooks: ``POST /hooks/<token>`` runs the chrono with the posted JSON as input.

Checks, in order, each answering with no run created:
- the token names a chrono's hook, else 404;
- the body has a Content-Length (a chunked body is refused, not read as empty), else 411;
- the body is at most HOOK_MAX_BODY_BYTES, else 413;
- when the hook has a signing key, ``X-ChronoFlow-Signature`` carries the HMAC-SHA256
  under that key (checked before the body is parsed), else 401, in one of two forms:
  ``t=<unix seconds>,v1=<hex of HMAC("<t>." + raw body)>`` (timestamped: refused outside
  HOOK_SIGNATURE_TOLERANCE_S of our clock, and each one is accepted once, else 409), or the
  plain ``sha256=<hex of HMAC(raw body)>``, which cannot be told from a replay;
- the body is JSON (an empty body counts as ``{}``), else 400;
- the chrono is active, else 409;
- fewer than EVENT_QUEUE_MAX runs of the chrono wait behind one in progress, else 429
  with ``Retry-After`` (the longest a run in progress can still take).
Then the run is created and the answer is ``202 {"run_id": ...}`` at once. A run in
progress never turns the hook's run away: it waits its turn (automations/runs/execution.py). With
``?wait=1`` the request waits up to HOOK_WAIT_SECONDS for the run to end and answers
``200`` with its status and result, or still ``202`` if it has not ended by then.
"""

from __future__ import annotations

import time
from math import ceil

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from automations import targets
from automations.events import log as event_log
from automations.models import ChronoRun, Event, IntegratorHook
from automations.runs import execution
from chronoflow import jsonbody, signing  # nesting-limited: deep bodies were a RecursionError
from chronoflow.throttling import throttle_by_token
from chronoflow.webhooks import Refused

SIGNATURE_HEADER = "X-ChronoFlow-Signature"
POLL_INTERVAL_S = 0.1
MAX_RETRY_AFTER_S = 300


@csrf_exempt
@require_POST
@throttle_by_token  # WEBHOOK_THROTTLE per token (chronoflow/throttling.py)
def hook(request: HttpRequest, token: str) -> JsonResponse:
    """The integrator webhook of one chrono; see the module docstring for the answers."""
    found = IntegratorHook.objects.select_related("chrono").filter(token=token).first()
    if found is None:
        return JsonResponse({"error": "No webhook has this URL."}, status=404)
    try:
        body = _body(request)
        check_signature(found.signing_key, body, request.headers.get(SIGNATURE_HEADER, ""), hook_id=found.pk)
        data = _json(body)
        if not found.chrono.is_active:
            raise Refused(409, "The chrono is paused: no run was started.")
        with transaction.atomic():
            run = _start(found.chrono, data)
            event_log.record_hook(found.chrono, Event.Outcome.TRIGGERED, payload=data, run=run)
    except Refused as refused:
        return _refusal(found.chrono, refused)
    if request.GET.get("wait") in ("1", "true", "yes"):
        run = wait_for(run, settings.HOOK_WAIT_SECONDS)
    return JsonResponse(run_answer(run), status=200 if run.is_final else 202)


def _start(chrono, data) -> ChronoRun:
    """The hook's run; 429 when EVENT_QUEUE_MAX runs already wait (counted under the chrono's lock)."""
    execution.lock_chrono(chrono.pk)
    if chrono.event_queue_full():
        wait = max(1, min(ceil(targets.deadline_s(chrono)), MAX_RETRY_AFTER_S))  # a run in progress ends by then
        raise Refused(429, f"{settings.EVENT_QUEUE_MAX} runs of this chrono are already waiting; "
                           f"send it again in {wait} s.", retry_after=wait)
    return chrono.trigger(trigger=ChronoRun.Trigger.WEBHOOK, input=data)


def _refusal(chrono, refused: Refused) -> JsonResponse:
    event_log.record_hook(chrono, Event.Outcome.REFUSED, detail=f"{refused.status}: {refused.reason}")
    response = JsonResponse({"error": refused.reason}, status=refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def _body(request: HttpRequest) -> bytes:
    limit = settings.HOOK_MAX_BODY_BYTES
    too_big = Refused(413, f"The body is larger than {limit} bytes.")
    if not request.headers.get("Content-Length") and "Transfer-Encoding" in request.headers:
        # Django reads a body without a length as empty: a run would start with input {}.
        raise Refused(411, "Send the body with a Content-Length header (chunked bodies are not read).")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise Refused(400, "Content-Length is not a number.") from None
    if declared > limit:
        raise too_big  # refused before reading a byte of it
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_big from None
    if len(body) > limit:
        raise too_big
    return body


def check_signature(key: str, body: bytes, given: str, hook_id: int | None = None) -> None:
    """With a key, ``given`` must sign the body: ``t=<unix>,v1=<hex>`` or ``sha256=<hex>`` (or the bare hex)."""
    if not key:
        return
    given = given.strip().lower()
    if given.startswith("t="):
        _check_timestamped(key, body, given, hook_id)
        return
    given = given.removeprefix("sha256=")
    if not signing.verify(key, body, given):
        raise Refused(401, f"Missing or wrong {SIGNATURE_HEADER}: sign the raw body with HMAC-SHA256.")


def _check_timestamped(key: str, body: bytes, given: str, hook_id: int | None) -> None:
    fields = dict(part.partition("=")[::2] for part in given.split(","))
    stamp, digest = fields.get("t", ""), fields.get("v1", "")
    if not stamp.isdigit() or not digest:
        raise Refused(401, f"{SIGNATURE_HEADER} must read t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">.")
    if not signing.verify(key, stamp.encode() + b"." + body, digest):
        raise Refused(401, f"Wrong {SIGNATURE_HEADER}: v1 must be the HMAC-SHA256 of \"<t>.<raw body>\".")
    tolerance = settings.HOOK_SIGNATURE_TOLERANCE_S
    if abs(time.time() - int(stamp)) > tolerance:
        raise Refused(401, f"The signature's timestamp is outside the {tolerance} s tolerance window.")
    # Remembered for the window (and a little more): past it the timestamp check refuses it anyway.
    # cache.add is atomic (SET NX on Redis, shared by every process when REDIS_URL is set).
    if not cache.add(f"hook-sig:{hook_id}:{digest}", 1, timeout=2 * tolerance + 1):
        raise Refused(409, "This signed request was already received: sign each delivery with a new timestamp.")


def sign(key: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``key``: what integrators send as ``sha256=<hex>``."""
    return signing.hex_hmac(key, body, "sha256")


def _json(body: bytes):
    if not body.strip():
        return {}
    try:
        return jsonbody.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "The body is not JSON.") from None


def wait_for(run: ChronoRun, seconds: float) -> ChronoRun:
    """Poll the run until it is final or ``seconds`` have passed; the latest state either way."""
    deadline = time.monotonic() + seconds
    while True:
        run.refresh_from_db()
        if run.is_final or time.monotonic() >= deadline:
            return run
        time.sleep(POLL_INTERVAL_S)


def run_answer(run: ChronoRun) -> dict:
    answer = {"run_id": run.pk, "status": run.status}
    if run.is_final:
        answer.update(result=run.result, error=run.error_message or None, http_status=run.http_status)
    return answer
