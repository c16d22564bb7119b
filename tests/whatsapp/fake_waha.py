"""A fake WAHA for tests: sessions in memory, every request checked against WAHA's spec.

Two ways to reach it, sharing one ``FakeWaha``:
- ``install(rsps)`` answers through ``responses`` (unit tests, no sockets);
- ``FakeWahaServer`` serves it on 127.0.0.1 and a free port (end-to-end tests), and can
  post signed webhooks to the URLs the sessions were configured with, as WAHA does.

A request that WAHA's spec (``spec/``, beside this file) does not allow is answered 400 and
recorded in ``violations``; the fixtures fail the test when any were recorded, even if
the code under test swallowed the 400.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest

from whatsapp import signature

# Inside the repository, so a fresh clone tests as it is (provenance: spec/README.md).
FILES_PREFIX = "/api/files/"
SPEC_PATH = Path(__file__).resolve().parent / "spec" / "waha-openapi-2026.7.1.fixed.json"
API_KEY = "test-waha-key"
# A real 1×1 PNG: what the QR endpoint hands out.
QR_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@functools.cache
def spec() -> OpenAPI:
    """WAHA's published spec with its known defects fixed (spec/README.md lists them)."""
    with SPEC_PATH.open() as f:
        document = json.load(f)
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def spec_violation(prepared: requests.PreparedRequest) -> str | None:
    """Why the spec does not allow this request, or None when it does."""
    try:
        spec().validate_request(RequestsOpenAPIRequest(prepared))
    except Exception as exc:  # openapi-core raises a family of validation errors
        cause = getattr(exc, "__cause__", None)
        return f"{prepared.method} {prepared.url}: {exc}" + (f" ({cause})" if cause else "")
    return None


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)

    def encoded(self) -> tuple[int, dict, bytes]:
        if isinstance(self.body, bytes):
            return self.status, {"Content-Type": "image/png", **self.headers}, self.body
        text = b"" if self.body is None else json.dumps(self.body).encode()
        return self.status, {"Content-Type": "application/json", **self.headers}, text


@dataclass
class Failure:
    method: str
    path: str
    answer: Answer | Exception
    times: int = 1
    when: Callable[[dict], bool] | None = None


class FakeWaha:
    """WAHA's behaviour as far as ChronoFlow relies on it (README §1-§7)."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.sessions: dict[str, dict] = {}
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, json body)
        self.violations: list[str] = []
        self.sent: list[dict] = []  # bodies of accepted sendText calls
        self.media_sent: list[dict] = []  # bodies of accepted sendImage/File/Voice/Video calls, with "route"
        self.failures: list[Failure] = []
        self.posted: list[tuple[str, int]] = []  # webhooks posted: (event, our answer's status)
        self.lids: dict[str, str] = {}  # "123@lid" -> "5511...@c.us": the mappings WAHA knows
        self.files: dict[str, tuple[bytes, str]] = {}  # path under /api/files/ -> (content, mimetype)
        self._lock = threading.Lock()
        self._counter = 0
        # Real WAHA may post a started session's first session.status before it answers the
        # create call; on here, the fake does that too (needs a server ChronoFlow can be reached at).
        self.announce_start = False
        self._stall_at: int | None = None  # see stall_send
        self.stalled = threading.Event()
        self._released = threading.Event()

    # --- test controls ---------------------------------------------------------------------

    def add_session(self, name: str, status: str = "WORKING", config: dict | None = None, me: dict | None = None) -> dict:
        self.sessions[name] = {"name": name, "status": status, "config": config or {}, "me": me}
        return self.sessions[name]

    def fail(self, method: str, path: str, status: int = 500, body: Any = None, times: int = 1,
             when: Callable[[dict], bool] | None = None, exception: Exception | None = None) -> None:
        """Answer the next matching request(s) with an error (or raise ``exception``, e.g. a timeout)."""
        answer = exception or Answer(status, body if body is not None else {"statusCode": status, "message": "boom"})
        self.failures.append(Failure(method, path, answer, times, when))

    def add_file(self, session: str, name: str, content: bytes, mimetype: str,
                 host: str = "http://localhost:3000") -> str:
        """Keep a file as WAHA does after downloading a message's media; its media.url.

        The URL carries WAHA's own idea of its host (WHATSAPP_API_HOSTNAME), not ours.
        """
        path = f"/api/files/{session}/{name}"
        self.files[path] = (content, mimetype)
        return host + path

    def stall_send(self, nth: int) -> None:
        """The ``nth`` accepted sendText is carried out (it is in ``sent``) but its answer waits
        for ``release()``: a WAHA that sent while the caller died waiting. ``stalled`` is set then."""
        self._stall_at = nth

    def release(self) -> None:
        self._released.set()

    def calls(self, method: str, path: str) -> list[Any]:
        return [body for m, p, body in self.requests if m == method and p == path]

    # --- request handling --------------------------------------------------------------------

    def handle(self, prepared: requests.PreparedRequest) -> Answer:
        """Check one request against the spec and the API key, then act like WAHA."""
        parts = urlsplit(prepared.url)
        # WAHA serves media files outside its OpenAPI document (README §7.9): key check only.
        violation = None if parts.path.startswith(FILES_PREFIX) else spec_violation(prepared)
        if violation is None and "X-Api-Key" not in prepared.headers:
            # GET /api/sessions also admits oauth2, so the spec alone lets a keyless call pass.
            violation = f"{prepared.method} {prepared.url}: no X-Api-Key header"
        body = _json(prepared.body)
        with self._lock:
            self.requests.append((prepared.method, parts.path, body))
            if violation:
                self.violations.append(violation)
                return Answer(400, {"statusCode": 400, "message": f"fake WAHA: not allowed by the spec: {violation}"})
            if prepared.headers.get("X-Api-Key") != self.api_key:
                return Answer(401, {"message": "Unauthorized", "statusCode": 401})
            failure = self._failure(prepared.method, parts.path, body)
            if isinstance(failure, Exception):
                raise failure
            if failure is not None:
                return failure
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            answer = self._route(prepared.method, unquote(parts.path), query, body, prepared.headers)
            stall = parts.path == "/api/sendText" and answer.status == 201 and len(self.sent) == self._stall_at
        if stall:  # outside the lock: other callers go on meanwhile
            self.stalled.set()
            self._released.wait(timeout=120)
        return answer

    def _failure(self, method: str, path: str, body: Any) -> Answer | Exception | None:
        for failure in self.failures:
            if failure.method == method and failure.path == path and failure.times > 0 and (
                failure.when is None or failure.when(body or {})
            ):
                failure.times -= 1
                return failure.answer
        return None

    def _route(self, method: str, path: str, query: dict, body: Any, headers) -> Answer:
        for pattern_method, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and pattern_method == method:
                return handler(self, query=query, body=body or {}, headers=headers, **match.groupdict())
        return Answer(404, {"statusCode": 404, "message": f"Cannot {method} {path}"})

    def _session(self, name: str) -> dict | None:
        return self.sessions.get(name)

    def _not_found(self, name: str) -> Answer:
        return Answer(404, {"statusCode": 404, "message": f"Session \"{name}\" not found", "error": "Not Found"})

    def _wrong_status(self, session: dict, expected: list[str]) -> Answer:
        return Answer(422, {"error": "Session status is not as expected. Try again later or restart the session",
                            "session": session["name"], "status": session["status"], "expected": expected})

    # --- routes ------------------------------------------------------------------------------

    def list_sessions(self, query, **_) -> Answer:
        shown = [s for s in self.sessions.values() if query.get("all") == "true" or s["status"] != "STOPPED"]
        return Answer(200, [self._info(s) for s in shown])

    def create_session(self, body, **_) -> Answer:
        name = body.get("name") or f"session_{len(self.sessions)}"
        if name in self.sessions:
            return Answer(422, {"statusCode": 422, "message": f"Session '{name}' already exists. Use PUT to update it."})
        status = "STARTING" if body.get("start", True) else "STOPPED"
        session = self.add_session(name, status, body.get("config") or {})
        if self.announce_start and status == "STARTING":
            self.set_status(name, status)
        return Answer(201, self._dto(session))

    def get_session(self, name, **_) -> Answer:
        session = self._session(name)
        return Answer(200, self._info(session)) if session else self._not_found(name)

    def update_session(self, name, body, **_) -> Answer:
        session = self._session(name)
        if not session:
            return self._not_found(name)
        session["config"] = body.get("config") or {}
        return Answer(200, self._dto(session))

    def delete_session(self, name, **_) -> Answer:
        self.sessions.pop(name, None)
        return Answer(200)

    def session_action(self, name, action, **_) -> Answer:
        session = self._session(name)
        if not session:
            return self._not_found(name)
        if action in ("start", "restart"):
            session["status"] = "STARTING"
        elif action == "stop":
            session["status"] = "STOPPED"
        elif action == "logout":
            session.update(status="STARTING", me=None)
        return Answer(201, self._dto(session))

    def me(self, name, **_) -> Answer:
        session = self._session(name)
        return Answer(200, session["me"]) if session else self._not_found(name)

    def qr(self, name, query, headers, **_) -> Answer:
        session = self._session(name)
        if not session:
            return self._not_found(name)
        if session["status"] != "SCAN_QR_CODE":
            return self._wrong_status(session, ["SCAN_QR_CODE"])
        if query.get("format") == "raw":
            return Answer(200, {"value": f"2@fake-qr-{name}"})
        if "application/json" in headers.get("Accept", ""):
            return Answer(200, {"mimetype": "image/png", "data": base64.b64encode(QR_PNG).decode()})
        return Answer(200, QR_PNG)

    def request_code(self, name, **_) -> Answer:
        session = self._session(name)
        if not session:
            return self._not_found(name)
        return Answer(201, {"code": "ABCD-EFGH"})

    def send_text(self, body, **_) -> Answer:
        session = self._session(body["session"])
        if not session:
            return self._not_found(body["session"])
        if session["status"] != "WORKING":
            return self._wrong_status(session, ["WORKING"])
        self._counter += 1
        message_id = f"true_{body['chatId']}_3EB0{self._counter:016X}"
        self.sent.append({**body, "id": message_id})
        return Answer(201, {"id": message_id, "timestamp": int(time.time()), "from": "me", "fromMe": True,
                            "to": body["chatId"], "body": body["text"], "hasMedia": False, "ack": 0})

    def send_media(self, body, route, **_) -> Answer:
        """sendImage, sendFile, sendVoice, sendVideo: the spec checked the shape; WAHA also needs a
        fetchable http(s) URL or base64 that decodes. Answers like NOWEB (README §5.3)."""
        session = self._session(body["session"])
        if not session:
            return self._not_found(body["session"])
        if session["status"] != "WORKING":
            return self._wrong_status(session, ["WORKING"])
        problem = _file_problem(body.get("file") or {})
        if problem:
            return Answer(400, {"statusCode": 400, "message": problem})
        self._counter += 1
        ident = f"3EB0{self._counter:016X}"
        self.media_sent.append({**body, "route": route, "id": f"true_{body['chatId']}_{ident}"})
        return Answer(201, {"key": {"remoteJid": body["chatId"], "fromMe": True, "id": ident}})

    def chatting(self, body, what, **_) -> Answer:
        """sendSeen, startTyping, stopTyping: 201 for a WORKING session (typing with an empty body)."""
        session = self._session(body["session"])
        if not session:
            return self._not_found(body["session"])
        if session["status"] != "WORKING":
            return self._wrong_status(session, ["WORKING"])
        return Answer(201, {} if what == "sendSeen" else None)

    def presence(self, name, **_) -> Answer:
        session = self._session(name)
        if not session:
            return self._not_found(name)
        return Answer(201)

    def check_exists(self, query, **_) -> Answer:
        return Answer(200, {"numberExists": True, "chatId": f"{query['phone']}@c.us"})

    def lid(self, name, lid, **_) -> Answer:
        lid = lid if "@" in lid else f"{lid}@lid"
        return Answer(200, {"lid": lid, "pn": self.lids.get(lid)})
    def file(self, path, **_) -> Answer:
        if f"{FILES_PREFIX}{path}" not in self.files:  # never kept, or past WHATSAPP_FILES_LIFETIME
            return Answer(404, {"statusCode": 404, "message": f"Cannot GET {FILES_PREFIX}{path}", "error": "Not Found"})
        content, mimetype = self.files[f"{FILES_PREFIX}{path}"]
        return Answer(200, content, {"Content-Type": mimetype})

    def version(self, **_) -> Answer:
        return Answer(200, {"version": "2026.7.1", "engine": "NOWEB", "tier": "CORE", "browser": None,
                            "platform": "linux/x64", "worker": {"id": "waha"}})

    def _dto(self, session: dict) -> dict:
        return {"name": session["name"], "status": session["status"], "config": session["config"]}

    def _info(self, session: dict) -> dict:
        return {**self._dto(session), "me": session["me"], "presence": None, "timestamps": {"activity": None}}

    # --- webhooks, as WAHA sends them ----------------------------------------------------------

    def envelope(self, session: str, event: str, payload: dict, me: dict | None = None) -> dict:
        return {"id": f"evt_{uuid.uuid4().hex[:26]}", "timestamp": int(time.time() * 1000), "event": event,
                "session": session, "me": me, "payload": payload, "engine": "NOWEB",
                "environment": {"version": "2026.7.1", "engine": "NOWEB", "tier": "CORE", "browser": None,
                                "platform": "linux/x64", "worker": {"id": "waha"}}}

    def emit(self, session: str, event: str, payload: dict, me: dict | None = None) -> list[int]:
        """Post the event to every webhook the session's config names, signed with its HMAC key."""
        config = self.sessions[session]["config"]
        statuses = []
        for hook in config.get("webhooks") or []:
            if event not in hook["events"]:
                continue
            body = json.dumps(self.envelope(session, event, payload, me)).encode()
            headers = webhook_headers(body, (hook.get("hmac") or {}).get("key"))
            answer = requests.post(hook["url"], data=body, headers=headers, timeout=10)
            self.posted.append((event, answer.status_code))
            statuses.append(answer.status_code)
        return statuses

    def set_status(self, session: str, status: str, me: dict | None = None) -> list[int]:
        """Change a session's status and tell ChronoFlow, as WAHA does."""
        self.sessions[session]["status"] = status
        if me is not None:
            self.sessions[session]["me"] = me
        now = int(time.time() * 1000)
        payload = {"name": session, "status": status, "statuses": [{"status": status, "timestamp": now}], "data": None}
        return self.emit(session, "session.status", payload, me=self.sessions[session]["me"])


def webhook_headers(body: bytes, hmac_key: str | None) -> dict:
    headers = {"Content-Type": "application/json", "User-Agent": "WAHA/2026.7.1",
               "X-Webhook-Request-Id": uuid.uuid4().hex, "X-Webhook-Timestamp": str(int(time.time() * 1000))}
    if hmac_key:
        headers.update({"X-Webhook-Hmac": signature.sign(hmac_key, body), "X-Webhook-Hmac-Algorithm": "sha512"})
    return headers


def _file_problem(file: dict) -> str:
    if "url" in file:
        return "" if urlsplit(str(file["url"])).scheme in ("http", "https") else "file.url must be http(s)"
    try:
        base64.b64decode(str(file.get("data") or ""), validate=True)
    except (ValueError, binascii.Error):
        return "file.data is not base64"
    return ""


def _json(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


ROUTES: list[tuple[str, str, Callable]] = [
    ("GET", r"/api/sessions", FakeWaha.list_sessions),
    ("POST", r"/api/sessions", FakeWaha.create_session),
    ("GET", r"/api/sessions/(?P<name>[^/]+)", FakeWaha.get_session),
    ("PUT", r"/api/sessions/(?P<name>[^/]+)", FakeWaha.update_session),
    ("DELETE", r"/api/sessions/(?P<name>[^/]+)", FakeWaha.delete_session),
    ("POST", r"/api/sessions/(?P<name>[^/]+)/(?P<action>start|stop|logout|restart)", FakeWaha.session_action),
    ("GET", r"/api/sessions/(?P<name>[^/]+)/me", FakeWaha.me),
    ("GET", r"/api/(?P<name>[^/]+)/auth/qr", FakeWaha.qr),
    ("POST", r"/api/(?P<name>[^/]+)/auth/request-code", FakeWaha.request_code),
    ("POST", r"/api/sendText", FakeWaha.send_text),
    ("POST", r"/api/(?P<route>send(?:Image|File|Voice|Video))", FakeWaha.send_media),
    ("POST", r"/api/(?P<what>sendSeen|startTyping|stopTyping)", FakeWaha.chatting),
    ("POST", r"/api/(?P<name>[^/]+)/presence", FakeWaha.presence),
    ("GET", r"/api/contacts/check-exists", FakeWaha.check_exists),
    ("GET", r"/api/(?P<name>[^/]+)/lids/(?P<lid>[^/]+)", FakeWaha.lid),
    ("GET", r"/api/server/version", FakeWaha.version),
    ("GET", r"/api/files/(?P<path>.+)", FakeWaha.file),
]


# --- transports ---------------------------------------------------------------------------------


def install(fake: FakeWaha, rsps, base_url: str) -> None:
    """Answer every request to ``base_url`` through ``responses`` with the fake."""

    def callback(prepared):
        return fake.handle(prepared).encoded()

    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        rsps.add_callback(method, re.compile(re.escape(base_url) + r"/.*"), callback=callback)


class FakeWahaServer:
    """The fake on a real socket, 127.0.0.1 and a free port: ``with FakeWahaServer() as server``."""

    def __init__(self, fake: FakeWaha | None = None) -> None:
        self.fake = fake or FakeWaha()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeWahaServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_ANY(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                prepared = requests.Request(self.command, owner.url + self.path, headers=dict(self.headers.items()),
                                            data=body).prepare()
                status, headers, content = owner.fake.handle(prepared).encoded()
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(content))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_ANY

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-waha", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
