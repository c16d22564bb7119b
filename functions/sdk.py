"""The parent half of ctx: every policy, counter and cap of one run lives here.

The child only holds stubs; each ``ctx.http`` / ``ctx.message`` / ``ctx.state`` call
arrives here as ``(op, args)`` and is answered with ``{"ok": True, "value": ...}`` or
``{"ok": False, "error": {"kind", "message"}}``, which the child raises as the error of
that kind. Lifting a limit inside the child changes nothing: the counters are here.

Refusals by policy (a host or recipient not allowed, a limit reached, state too large)
are *sticky*: the call raises in the user's code, and the run fails with that reason
even if the code catches the error. Failures of the outside world (a refused
connection, a WAHA error) only raise, and code that handles them may still succeed.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

from django.conf import settings

from chronoflow import http
from functions import netpolicy
from functions.messaging import MessageFailed, recipient_allowed, send_message
from whatsapp.attachments import Attachment
from whatsapp.models import Message
from whatsapp.recipients import InvalidRecipient

log = logging.getLogger(__name__)

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_REDIRECTS = 5
MAX_HEADERS = 50
MAX_MESSAGE_CHARS = 4096
MAX_STATE_KEY_CHARS = 200
TRUNCATED = "…[truncated]"


# ctx.message.send's "attachment": a URL only (WAHA fetches it), with its kind and optional name and type.
ATTACHMENT_KEYS = {"kind", "url", "filename", "mimetype"}

class Refusal(Exception):
    """A policy refusal: raised in user code and fails the run (sticky)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Failure(Exception):
    """The outside world failed; raised in user code, which may handle it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class LogBook:
    """ctx.log lines up to a byte cap; past it, one marker line says how much was dropped."""

    def __init__(self, max_bytes: int) -> None:
        self.lines: list[str] = []
        self.max_bytes = max_bytes
        self.size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = self.max_bytes - self.size
        if self.dropped or room <= 0:
            self.dropped += 1
            return
        if len(text.encode()) > room:
            text = text.encode()[:room].decode(errors="ignore") + TRUNCATED
            self.dropped += 1
        self.lines.append(text)
        self.size += len(text.encode())

    def as_list(self) -> list[str]:
        if not self.dropped:
            return list(self.lines)
        return [*self.lines, f"…[logs truncated at {self.max_bytes} bytes: {self.dropped} line(s) cut or dropped]"]


class Session:
    """ctx for one run of `function` (for `chrono`/`run` when a chrono fired it)."""

    def __init__(self, function, chrono=None, run=None) -> None:
        self.function = function
        self.chrono = chrono
        self.run = run
        self.http_calls = 0
        self.messages_sent = 0
        self.logs = LogBook(settings.FUNCTION_MAX_LOG_BYTES)
        self.state = json.loads(json.dumps(function.state or {}))
        self.state_changes: dict[str, Any] = {}
        self.refusals: list[str] = []
        self._sent_at: deque[float] = deque()
        self._allowlist = netpolicy.parse_allowlist(settings.FUNCTION_HTTP_ALLOWLIST)
        self._addresses = netpolicy.AllowlistPolicy(self._allowlist)

    # --- the Handler protocol of functions/sandbox.py ----------------------------------

    def log(self, text: str) -> None:
        self.logs.add(text)

    def call(self, op: str, args: Any, deadline: float) -> dict:
        handlers = {"http": self.http, "message": self.message, "state.get": self.state_get,
                    "state.set": self.state_set}
        if op not in handlers or not isinstance(args, dict):
            return self._refuse(Refusal("PolicyError", f"Unknown call {op[:40]!r}."))
        try:
            return {"ok": True, "value": handlers[op](args, deadline)}
        except Refusal as exc:
            return self._refuse(exc)
        except Failure as exc:
            return {"ok": False, "error": {"kind": exc.kind, "message": str(exc)}}
        except Exception:  # a bug here must not reach the worker, nor leak internals to the user
            log.exception("ctx.%s failed in function %s", op, self.function.pk)
            return {"ok": False, "error": {"kind": "SdkError", "message": f"ctx {op} failed inside the platform."}}

    def _refuse(self, exc: Refusal) -> dict:
        self.refusals.append(f"{exc.kind}: {exc}")
        return {"ok": False, "error": {"kind": exc.kind, "message": str(exc)}}

    # --- ctx.http --------------------------------------------------------------------------

    def http(self, args: dict, deadline: float) -> dict:
        """One ctx.http call: chronoflow.http.send follows its redirects, every hop checked and counted."""
        method, request = _http_request(args)
        timeout = args.get("timeout")
        timeout_s = float(timeout) if timeout is not None else settings.HTTP_REQUEST_TIMEOUT_MS / 1000
        timeout_s = min(timeout_s, _left(deadline))
        if timeout_s <= 0:
            raise Failure("HttpError", "No time left before the function's timeout.")
        try:
            response = http.send(method, args.get("url"), **request, timeout_s=timeout_s, max_redirects=MAX_REDIRECTS,
                                 max_bytes=settings.FUNCTION_MAX_HTTP_RESPONSE_BYTES, retries=0,
                                 check_hop=lambda url: self._check_hop(url, deadline), address_policy=self._addresses)
        except netpolicy.Refused as exc:
            raise Refusal("PolicyError", str(exc)) from None
        except http.HttpError as exc:
            if exc.refused:  # the connected socket's peer address: a policy refusal, sticky
                raise Refusal("PolicyError", exc.message) from None
            raise Failure("HttpError", exc.message) from None
        if response.truncated:
            raise Failure("HttpError", f"The response is larger than {settings.FUNCTION_MAX_HTTP_RESPONSE_BYTES} bytes "
                                       "(FUNCTION_MAX_HTTP_RESPONSE_BYTES).")
        return _response_for_child(response)

    def _check_hop(self, url: object, deadline: float) -> None:
        """Before each request of a ctx.http call (redirect hops too): policy, max_http, rate limit."""
        netpolicy.check_target(url, self._allowlist)  # form and host:port; DNS is the address policy's
        if self.http_calls >= self.function.max_http:
            raise Refusal("LimitExceeded", f"max_http: this function may make {self.function.max_http} HTTP requests "
                                           "per run (each redirect followed counts).")
        self._throttle(deadline)
        self.http_calls += 1

    def _throttle(self, deadline: float) -> None:
        """At most FUNCTION_RATE_LIMIT_PER_SECOND requests in any second of this run: wait for a slot."""
        per_second = settings.FUNCTION_RATE_LIMIT_PER_SECOND
        now = time.monotonic()
        while self._sent_at and now - self._sent_at[0] >= 1:
            self._sent_at.popleft()
        if len(self._sent_at) >= per_second:
            wait = self._sent_at[0] + 1 - now
            if now + wait >= deadline:
                raise Failure("HttpError", "FUNCTION_RATE_LIMIT_PER_SECOND: no request slot before the timeout.")
            time.sleep(wait)
            self._sent_at.popleft()
        self._sent_at.append(time.monotonic())

    # --- ctx.message ------------------------------------------------------------------------

    def message(self, args: dict, deadline: float) -> dict:
        recipient, text = args.get("to"), args.get("text", "")
        if not isinstance(recipient, (str, int)) or isinstance(recipient, bool) or not str(recipient).strip():
            raise Refusal("PolicyError", 'ctx.message.send needs {"to": <phone or chat id>, "text": <text>}.')
        attachment = self._attachment(args.get("attachment"), text)
        if not isinstance(text, str) or (not text.strip() and attachment is None):
            raise Refusal("PolicyError", "ctx.message.send needs a non-empty text.")
        if len(text) > MAX_MESSAGE_CHARS:
            raise Refusal("PolicyError", f"The message is longer than {MAX_MESSAGE_CHARS} characters.")
        if self.messages_sent >= self.function.max_messages:
            raise Refusal("LimitExceeded",
                          f"max_messages: this function may send {self.function.max_messages} messages per run.")
        try:
            chat_id = recipient_allowed(recipient, settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST)
        except InvalidRecipient as exc:
            raise Refusal("PolicyError", str(exc)) from None
        if chat_id is None:
            raise Refusal("PolicyError", f"Recipient {str(recipient)[:40]!r} is not allowed by "
                                         "FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST.")
        channel = (self.chrono.channel if self.chrono else None) or self.function.fallback_channel
        if channel is None:
            raise Refusal("PolicyError", "No WhatsApp channel: set one on the chrono or the function's fallback channel.")
        if _left(deadline) <= 0:
            raise Failure("MessageError", "No time left before the function's timeout; nothing was sent.")
        self.messages_sent += 1
        try:
            sent = send_message(channel, chat_id, str(recipient), text, self.run,
                                zone=self.chrono.timezone if self.chrono else "", attachment=attachment)
        except MessageFailed as exc:
            raise Failure("MessageError", str(exc)) from None
        if sent.status == Message.Status.SUPPRESSED:  # the contact opted out: not an error, but said
            return {"id": sent.pk, "to": chat_id, "status": sent.status, "reason": sent.error}
        return {"id": sent.pk, "to": chat_id, "status": sent.status}

    def _attachment(self, given: Any, text: Any) -> Attachment | None:
        """``{"kind", "url"[, "filename", "mimetype"]}``: a file WAHA fetches, from a host the function
        may call itself (FUNCTION_HTTP_ALLOWLIST); never a stored file of the deployment's."""
        if given is None:
            return None
        if not isinstance(given, dict) or not isinstance(given.get("url"), str) or set(given) - ATTACHMENT_KEYS:
            raise Refusal("PolicyError", 'ctx.message.send\'s attachment is {"kind": "image"|"document"|"audio"|'
                                         '"video", "url": <http(s) URL>[, "filename", "mimetype"]}.')
        try:
            netpolicy.check_target(given["url"], self._allowlist)
        except netpolicy.Refused as exc:
            raise Refusal("PolicyError", f"attachment url: {exc}") from None
        attachment = Attachment(kind=str(given.get("kind") or ""), url=given["url"],
                                filename=str(given.get("filename") or ""), mimetype=str(given.get("mimetype") or ""),
                                caption=text if isinstance(text, str) else "")
        problems = attachment.problems()
        if problems:
            raise Refusal("PolicyError", "; ".join(f"attachment {k}: {v}" for k, v in problems.items()))
        return attachment

    # --- ctx.state ----------------------------------------------------------------------------

    def state_get(self, args: dict, deadline: float) -> Any:
        return self.state.get(_state_key(args.get("key")))

    def state_set(self, args: dict, deadline: float) -> None:
        key, value = _state_key(args.get("key")), args.get("value")
        candidate = {**self.state, key: value}
        size = len(json.dumps(candidate, allow_nan=False))
        if size > settings.FUNCTION_MAX_STATE_BYTES:
            raise Refusal("StateError", f"The state would be {size} bytes; at most {settings.FUNCTION_MAX_STATE_BYTES} "
                                        "are kept (FUNCTION_MAX_STATE_BYTES).")
        self.state = candidate
        self.state_changes[key] = value

    # --- the run record ---------------------------------------------------------------------

    def changes_for_record(self) -> dict:
        """Which state keys this run set, with their old and new values (capped)."""
        before = self.function.state or {}
        change = {key: {"from": before.get(key), "to": value} for key, value in self.state_changes.items()}
        encoded = json.dumps(change)
        if len(encoded) > settings.FUNCTION_MAX_LOG_BYTES:
            return {"truncated": True, "keys": sorted(change)[:100]}
        return change


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def _state_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_STATE_KEY_CHARS:
        raise Refusal("StateError", f"ctx.state keys must be non-empty text of at most {MAX_STATE_KEY_CHARS} characters.")
    return key


def _http_request(args: dict) -> tuple[str, dict]:
    """The method and the send() keywords of a ctx.http call, every argument checked."""
    method = str(args.get("method", "")).upper()
    if method not in HTTP_METHODS:
        raise Refusal("PolicyError", f"ctx.http supports {', '.join(HTTP_METHODS)}.")
    headers = args.get("headers") or {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise Refusal("PolicyError", f"headers= must be an object of at most {MAX_HEADERS} text names and text values.")
    params = args.get("params")
    if params is not None and not isinstance(params, (dict, list)):
        raise Refusal("PolicyError", "params= must be an object or a list of [name, value] pairs.")
    data = args.get("data")
    if data is not None and not isinstance(data, (str, dict)):
        raise Refusal("PolicyError", "data= must be text or an object of form fields.")
    timeout = args.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise Refusal("PolicyError", "timeout= must be a positive number of seconds.")
    if args.get("json") is not None and data is not None:
        raise Refusal("PolicyError", "Pass json= or data=, not both.")
    return method, {"headers": headers, "params": params, "json": args.get("json"), "data": data}


def _response_for_child(response: http.HttpResponse) -> dict:
    headers = {}
    for name, value in list(response.headers.items())[:100]:
        headers[name] = value[:2000]
    return {"status_code": response.status, "headers": headers, "text": response.text, "url": response.url}
