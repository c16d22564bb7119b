"""Events WAHA posts to ChronoFlow: authenticate, store once, process after commit.

``POST /whatsapp/webhooks/<channel token>``: the token names the channel, and the
request must always carry ``X-Webhook-Hmac``, the HMAC-SHA512 of the raw body under the
channel's key (WAHA_WEBHOOK_HMAC_KEY when set): the token alone travels in URLs and logs.
Anything else is 401 and changes nothing. The event is stored once per id taken from the
signed body (the envelope id, else the body's SHA-256; never an unsigned header) and its
work queued; the answer comes at once, because WAHA's retries are time-boxed and a slow
answer reads as a failure.
"""

import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chronoflow import jsonbody  # nesting-limited: deep bodies were a RecursionError
from chronoflow.throttling import throttle_by_token
from chronoflow.webhooks import Refused
from whatsapp import signature
from whatsapp.models import Channel, WebhookEvent

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
@throttle_by_token  # WEBHOOK_THROTTLE per token (chronoflow/throttling.py)
def webhook(request: HttpRequest, token: str = "") -> JsonResponse:
    """The per-channel webhook URL configured in each WAHA session."""
    try:
        channel = Channel.objects.filter(webhook_token=token).first() if token else None
        if channel is None:
            raise Refused(401, "Unknown or missing webhook token.")
        _check_signature(request, channel.webhook_hmac_key)
        return _accept(request, channel, _envelope(request))
    except Refused as refused:
        return _refuse(refused)


@csrf_exempt
@require_POST
def compat_status_webhook(request: HttpRequest) -> JsonResponse:
    """The original system's ``POST /waha/webhooks/sessions/status``.

    Authenticated by ``?token=<channel token>`` (like the main route), or without it by
    a valid signature under WAHA_WEBHOOK_HMAC_KEY; the envelope's session names the channel.
    """
    token = request.GET.get("token", "")
    if token:
        return webhook(request, token)
    try:
        key = settings.WAHA_WEBHOOK_HMAC_KEY
        if not key or not signature.verify(key, request.body, request.headers.get("X-Webhook-Hmac", "")):
            raise Refused(401, "Give the channel's ?token= or sign the body with WAHA_WEBHOOK_HMAC_KEY.")
        envelope = _envelope(request)
        channel = Channel.objects.filter(session_name=str(envelope.get("session") or "")).first()
        if channel is None:
            raise Refused(404, f"No channel has the session {envelope.get('session')!r}.")
        return _accept(request, channel, envelope)
    except Refused as refused:
        return _refuse(refused)


def _check_signature(request: HttpRequest, key: str) -> None:
    """Verify the raw body before anything parses it (a re-serialised body would not match)."""
    given = request.headers.get("X-Webhook-Hmac", "")
    algorithm = request.headers.get("X-Webhook-Hmac-Algorithm", "sha512").lower()
    if algorithm != "sha512" or not signature.verify(key, request.body, given):
        raise Refused(401, "Missing or wrong X-Webhook-Hmac signature.")


def _envelope(request: HttpRequest) -> dict:
    try:
        envelope = jsonbody.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "The body is not JSON.") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("event"), str):
        raise Refused(400, "The body is not a WAHA event: it needs an 'event' name.")
    return envelope


def _accept(request: HttpRequest, channel: Channel, envelope: dict) -> JsonResponse:
    if envelope.get("session") not in (None, channel.session_name):
        raise Refused(400, "The event's session is not this channel's session.")
    # Only signed content names the event: X-Webhook-Request-Id is not covered by the HMAC,
    # so a replay under a fresh one would otherwise be stored and processed again.
    event_id = str(envelope.get("id") or "") or "sha256:" + hashlib.sha256(request.body).hexdigest()
    _, created = receive(channel, event_id, envelope)
    return JsonResponse({"ok": True, "duplicate": not created})


def receive(channel: Channel, event_id: str, envelope: dict) -> tuple[WebhookEvent, bool]:
    """Store an inbound event once and queue its processing after commit; (event, created).

    Every event's way in: WAHA's webhooks and the development channel's simulated messages
    (whatsapp/simulate.py), so both reach triggers and the event log the same way.
    """
    with transaction.atomic():
        event, created = WebhookEvent.store(channel, event_id, envelope)
        if event.processed_at is None:
            # Also on a redelivery of an unprocessed event: if queueing failed the first
            # time (broker down, so we answered 500), WAHA's retry queues it now.
            from whatsapp.tasks import process_webhook_event

            transaction.on_commit(lambda: process_webhook_event.delay(event.pk))
    return event, created


def _refuse(refused: Refused) -> JsonResponse:
    log.info("WAHA webhook refused (%s): %s", refused.status, refused.reason)
    return JsonResponse({"ok": False, "error": refused.reason}, status=refused.status)
