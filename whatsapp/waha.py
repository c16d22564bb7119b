"""The WAHA (WhatsApp HTTP API) client: the only code that talks to WAHA.

One method per WAHA endpoint ChronoFlow uses, each returning WAHA's parsed JSON. Every
call carries ``X-Api-Key`` and goes through ``chronoflow.http.send`` (timeouts, no proxy,
capped body). Failures raise ``WahaError``; its ``permanent`` flag says whether trying
again can help: 4xx (401 bad key, 404 unknown session, 422 wrong session status or
"exists already") cannot, 5xx, timeouts and connection failures can.

No ORM here: the Channel model decides what to call and stores the outcome. The
reference for every route is ../shared/waha/README.md; the spec, openapi.json.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from chronoflow import http

# WAHA acks a message to a contact with message.ack, one to a group with message.ack.group.
# "message" carries what others send; "message.any" is asked for the messages sent from the
# business's own phone (fromMe, source "app"): an operator answering by hand. Its copies of
# incoming messages are skipped, so nothing is processed twice (WAHA README, #1384).
SESSION_EVENTS = ["session.status", "message", "message.any", "message.ack", "message.ack.group"]
# Where WAHA serves the media it downloaded (README §7.9); nothing else is fetched as a file.
FILES_PREFIX = "/api/files/"


class WahaError(Exception):
    """WAHA refused a request or could not be reached.

    ``status`` is WAHA's HTTP status (None when no answer came). ``permanent`` is True
    when repeating the same request cannot succeed. ``delivery_unknown`` is True when the
    request may have been carried out although no answer came (a timeout): a send must
    then not be repeated blindly, or the recipient could get the message twice.
    """

    def __init__(self, message: str, status: int | None = None, permanent: bool = False,
                 delivery_unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.permanent = permanent
        self.delivery_unknown = delivery_unknown


class WahaFileTooLarge(WahaError):
    """A file bigger than the caller's limit: not kept, and asking again will not shrink it."""


@dataclass
class WahaFile:
    content: bytes
    mimetype: str  # WAHA's Content-Type, without parameters ('' when none)


def file_path(url: str) -> str:
    """The path of a WAHA media URL, to be fetched from *our* WAHA_BASE_URL.

    WAHA writes its media URLs with its own idea of its host (WHATSAPP_API_HOSTNAME), and a
    webhook's URL is data we did not choose: only the path is kept, and only one under
    /api/files/ (the API key must not fetch any other route). WahaError when refused.
    """
    try:
        path = urlsplit(str(url or "")).path
    except ValueError:
        path = ""
    segments = unquote(path).split("/")
    if not unquote(path).startswith(FILES_PREFIX) or any(s in (".", "..") for s in segments):
        raise WahaError(f"The media URL is not a WAHA file ({FILES_PREFIX}...); not downloaded.", permanent=True)
    return path


class WahaClient:
    """A WAHA server: ``WahaClient("http://waha:3000", api_key, timeout=10.0)``."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    # --- sessions ------------------------------------------------------------------------

    def list_sessions(self, all: bool = True) -> list[dict]:
        """Every session; ``all`` includes STOPPED ones (WAHA leaves them out otherwise)."""
        return self._call("GET", "/api/sessions", params={"all": _flag(all)}) or []

    def create_session(self, name: str, config: dict, start: bool = True) -> dict:
        return self._call("POST", "/api/sessions", json={"name": name, "start": start, "config": config})

    def get_session(self, name: str) -> dict:
        return self._call("GET", f"/api/sessions/{_seg(name)}")

    def update_session(self, name: str, config: dict) -> dict:
        """Replace the session's config (send it whole); WAHA restarts a running session."""
        return self._call("PUT", f"/api/sessions/{_seg(name)}", json={"config": config})

    def delete_session(self, name: str) -> None:
        self._call("DELETE", f"/api/sessions/{_seg(name)}")

    def start_session(self, name: str) -> dict:
        return self._call("POST", f"/api/sessions/{_seg(name)}/start")

    def stop_session(self, name: str) -> dict:
        return self._call("POST", f"/api/sessions/{_seg(name)}/stop")

    def logout_session(self, name: str) -> dict:
        return self._call("POST", f"/api/sessions/{_seg(name)}/logout")

    def restart_session(self, name: str) -> dict:
        return self._call("POST", f"/api/sessions/{_seg(name)}/restart")

    def get_me(self, name: str) -> dict | None:
        """The logged-in account ({id, pushName, ...}), or None before authentication."""
        return self._call("GET", f"/api/sessions/{_seg(name)}/me")

    # --- login ---------------------------------------------------------------------------

    def get_qr_image(self, name: str) -> bytes:
        """The current QR as PNG bytes. WAHA answers 422 unless the session is SCAN_QR_CODE.

        Asked as JSON (base64) rather than raw PNG: the same image, and a body that can
        travel through the text-only HTTP helper intact.
        """
        body = self._call("GET", f"/api/{_seg(name)}/auth/qr", params={"format": "image"},
                          headers={"Accept": "application/json"})
        try:
            return base64.b64decode((body or {})["data"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise WahaError("WAHA answered the QR request without a base64 image.", permanent=False) from None

    def get_qr_value(self, name: str) -> str:
        """The text the QR encodes, for rendering it ourselves."""
        body = self._call("GET", f"/api/{_seg(name)}/auth/qr", params={"format": "raw"})
        return (body or {}).get("value", "")

    def request_code(self, name: str, phone_number: str) -> dict:
        """Ask for a pairing code ({"code": "ABCD-ABCD"}) for a number written as digits only."""
        return self._call("POST", f"/api/{_seg(name)}/auth/request-code", json={"phoneNumber": phone_number}) or {}

    # --- sending -------------------------------------------------------------------------

    def send_text(self, session: str, chat_id: str, text: str) -> dict:
        return self._call("POST", "/api/sendText", json={"session": session, "chatId": chat_id, "text": text})

    def send_image(self, session: str, chat_id: str, file: dict, caption: str = "") -> dict:
        """``file`` is {mimetype, url[, filename]} or {mimetype, data (base64)[, filename]}."""
        return self._call("POST", "/api/sendImage", json=_media(session, chat_id, file, caption=caption))

    def send_file(self, session: str, chat_id: str, file: dict, caption: str = "") -> dict:
        return self._call("POST", "/api/sendFile", json=_media(session, chat_id, file, caption=caption))

    def send_voice(self, session: str, chat_id: str, file: dict, convert: bool = True) -> dict:
        """Voice notes must be OGG/Opus; ``convert`` lets WAHA transcode anything else."""
        return self._call("POST", "/api/sendVoice", json=_media(session, chat_id, file, convert=convert))

    def send_video(self, session: str, chat_id: str, file: dict, caption: str = "", convert: bool = True) -> dict:
        return self._call("POST", "/api/sendVideo", json=_media(session, chat_id, file, caption=caption, convert=convert))

    # --- looking human (README §5.6: seen, typing, then the send) ----------------------------

    def send_seen(self, session: str, chat_id: str, message_ids: list[str] | None = None) -> dict:
        """Mark the chat's messages read (blue ticks); ``message_ids`` is needed on NOWEB/GOWS."""
        body = {"session": session, "chatId": chat_id}
        if message_ids:
            body["messageIds"] = list(message_ids)
        return self._call("POST", "/api/sendSeen", json=body)

    def start_typing(self, session: str, chat_id: str) -> None:
        self._call("POST", "/api/startTyping", json={"session": session, "chatId": chat_id})

    def stop_typing(self, session: str, chat_id: str) -> None:
        self._call("POST", "/api/stopTyping", json={"session": session, "chatId": chat_id})

    def set_presence(self, session: str, presence: str, chat_id: str = "") -> None:
        """``online``/``offline`` (no chat) or ``typing``/``recording``/``paused`` in ``chat_id``."""
        body = {"presence": presence, **({"chatId": chat_id} if chat_id else {})}
        self._call("POST", f"/api/{_seg(session)}/presence", json=body)

    def check_exists(self, session: str, phone: str) -> dict:
        """{"numberExists": bool, "chatId": "...@c.us"} for a number written as digits only."""
        return self._call("GET", "/api/contacts/check-exists", params={"phone": phone, "session": session})

    def find_phone_by_lid(self, session: str, lid: str) -> dict:
        """{"lid": "...@lid", "pn": "...@c.us" or null}: the phone behind a hidden id, when WAHA knows it."""
        return self._call("GET", f"/api/{_seg(session)}/lids/{_seg(lid)}")

    # --- files ---------------------------------------------------------------------------

    def download_file(self, path: str, max_bytes: int) -> WahaFile:
        """The bytes of a file WAHA serves (``path`` from ``file_path``), at most ``max_bytes``.

        WahaFileTooLarge when the file is bigger; WahaError (404) once WAHA deleted it
        (WHATSAPP_FILES_LIFETIME).
        """
        response = self._request("GET", file_path(path), headers={"Accept": "*/*"},
                                 max_bytes=max_bytes, decode=False)
        if response.truncated:
            raise WahaFileTooLarge(f"The file is larger than {max_bytes} bytes (WHATSAPP_MEDIA_MAX_BYTES); not kept.",
                                   response.status, permanent=True)
        mimetype = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return WahaFile(response.content, mimetype)

    # --- server --------------------------------------------------------------------------

    def server_version(self) -> dict:
        return self._call("GET", "/api/server/version")

    # --- transport -----------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
              headers: dict | None = None) -> Any:
        """Send one request; the parsed JSON answer (None for an empty body) or WahaError."""
        return _json_or_none(self._request(method, path, params=params, json=json, headers=headers))

    def _request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                 headers: dict | None = None, **options: Any) -> http.HttpResponse:
        """Send one request with the API key; a 2xx/3xx response or WahaError."""
        all_headers = {"X-Api-Key": self.api_key, "Accept": "application/json", **(headers or {})}
        try:
            response = http.send(method, f"{self.base_url}{path}", headers=all_headers, params=params, json=json,
                                 timeout_s=self.timeout, follow_redirects=False, **options)
        except http.HttpError as exc:
            raise self._unreachable(method, path, exc) from None
        if response.status >= 400:
            hint = " (check WAHA_API_KEY)" if response.status == 401 else ""
            raise WahaError(f"WAHA {method} {_route(path)} answered {response.status}: {_reason(response)}{hint}",
                            response.status, permanent=response.status < 500)
        return response

    def _unreachable(self, method: str, path: str, exc: http.HttpError) -> WahaError:
        """No answer came. Named after the setting to fix: a wrong or missing WAHA_BASE_URL
        is the usual cause, and the development channel the way to try ChronoFlow without WAHA."""
        where, call = f"WAHA at {self.base_url} (WAHA_BASE_URL)", f"{method} {_route(path)}"
        arrived = _may_have_arrived(exc)
        if arrived:
            text = f"{where} did not answer {call}: {exc.message}"
        else:
            text = f"Could not reach {where}: {exc.message} ({call})"
        return WahaError(text, exc.status, exc.permanent, delivery_unknown=arrived)


# WhatsApp's shadow restriction on new contacts ("server returned error 463"), which WAHA
# hands on as a 500 while the session stays WORKING (README §5.7); 2026.7.2 names it.
_REACHOUT_LOCK = re.compile(r"\b463\b|reachout ?time ?lock", re.IGNORECASE)


def is_reachout_lock(exc: WahaError) -> bool:
    """Whether WAHA's refusal is the reachout time lock: pause outreach, never restart."""
    return exc.status == 500 and bool(_REACHOUT_LOCK.search(exc.message))


# Failures before a connection existed: WAHA never saw the request.
_NEVER_SENT = ("Connection refused", "Could not resolve", "Could not connect", "Invalid", "Only http")


def _may_have_arrived(exc: http.HttpError) -> bool:
    """No answer came: unless we never connected, WAHA may have acted on the request.

    Anything not recognised counts as "may have arrived", the side that never sends twice.
    """
    return not exc.message.startswith(_NEVER_SENT)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _seg(value: str) -> str:
    """A path segment: WAHA ids carry '@', which goes as %40."""
    return quote(value, safe="")


def _route(path: str) -> str:
    # Keep error messages short: the route, never a query string.
    return path.split("?", 1)[0]


def _media(session: str, chat_id: str, file: dict, **extra: Any) -> dict:
    body = {"session": session, "chatId": chat_id, "file": file}
    body.update({k: v for k, v in extra.items() if v not in ("", None)})
    return body


def _reason(response: http.HttpResponse) -> str:
    """WAHA's own words for a refusal: NestJS's `message`, the 422 status-check `error`, or
    the `exception.message` of an unexpected error (500)."""
    try:
        body = response.json()
    except http.HttpError:
        return response.text[:200] or "(empty body)"
    if isinstance(body, dict):
        reason = body.get("message") or body.get("error") or _exception_message(body) or _without_echo(body)
        if isinstance(reason, list):
            reason = "; ".join(map(str, reason))
        if body.get("expected") and body.get("status"):
            reason = f"{reason} (session is {body['status']}, expected {', '.join(body['expected'])})"
        return str(reason)[:300]
    return str(body)[:300]


def _exception_message(body: dict) -> str:
    exception = body.get("exception")
    message = exception.get("message") if isinstance(exception, dict) else None
    return message if isinstance(message, str) else ""


def _without_echo(body: dict) -> dict:
    # A 500 echoes our request (the text we sent) and a stack trace: neither helps the reader.
    return {key: value for key, value in body.items() if key not in ("request", "exception")}


def _json_or_none(response: http.HttpResponse) -> Any:
    if not response.text.strip():
        return None  # WEBJS answers some sends with an empty 201
    try:
        return response.json()
    except http.HttpError as exc:
        raise WahaError(f"WAHA answered {response.status} with a body that is not JSON: {exc.message}",
                        response.status, permanent=False) from None
