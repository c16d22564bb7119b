"""A real HTTP server on 127.0.0.1 for tests where the network itself is under test.

Usage (or take the ``local_server`` fixture from tests/conftest.py)::

    with LocalServer() as server:
        server.reply("/hook", status=200, body={"ok": True})
        server.reply("/slow", delay=3)                       # wait before answering
        server.reply("/moved", redirect="/hook")             # 302 with a Location
        server.reply("/drip", body="x" * 60, trickle=1)      # one body byte a second
        server.replies("/flaky", [Reply(status=500), Reply(status=200)])
        ...call server.url("/hook")...
        assert server.requests_to("/hook")[0].json() == {...}

Paths match without the query string. A path with no reply set answers 404, so a test
that calls the wrong URL notices. Each request is recorded (method, path with query,
headers, body) before the reply is chosen, even if the client gives up waiting.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    """What the server answers on one path.

    ``body`` may be bytes, text, or any other value (sent as JSON). ``redirect`` sets a
    Location header and, unless ``status`` is given as a 3xx, the status 302. ``delay``
    seconds pass before anything is sent (the stop of the server cuts it short).
    ``trickle`` sends the body one byte at a time, that many seconds apart.
    """

    status: int | None = None
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    redirect: str | None = None
    trickle: float = 0.0

    def encoded_body(self) -> tuple[bytes, str | None]:
        if isinstance(self.body, bytes):
            return self.body, None
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"

    def final_status(self) -> int:
        if self.status is not None:
            return self.status
        return 302 if self.redirect else 200


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 and a free port; start() / stop() or `with`."""

    def __init__(self, port: int = 0) -> None:
        self._port = port  # 0: any free port
        self.requests: list[Recorded] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> LocalServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._httpd.daemon_threads = True  # a handler still sleeping must not hold up stop()
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="localserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers waiting out a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- configuration and inspection ---------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, path: str, status: int | None = None, body: Any = b"", headers: dict[str, str] | None = None,
              delay: float = 0.0, redirect: str | None = None, trickle: float = 0.0) -> None:
        """Answer every request to `path` the same way from now on."""
        self.replies(path, [Reply(status, body, dict(headers or {}), delay, redirect, trickle)])

    def replies(self, path: str, replies: list[Reply]) -> None:
        """Answer successive requests with these replies in turn; the last one then repeats."""
        with self._lock:
            self._replies[path] = list(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        """Requests received on `path` (query string ignored), oldest first."""
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    # --- used by the handler ------------------------------------------------------------

    def _record_and_choose(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._replies.get(urlsplit(request.path).path)
            if not queue:
                return Reply(status=404, body=f"no reply set for {request.path}")
            return queue.pop(0) if len(queue) > 1 else queue[0]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: LocalServer

    def do_ANY(self) -> None:
        recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self._body())
        reply = self.owner._record_and_choose(recorded)
        if reply.delay and self.owner._stopping.wait(reply.delay):
            return
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, size cap): that is what some tests want
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_ANY

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _chunked_body(self) -> bytes:
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        body, content_type = reply.encoded_body()
        self.send_response(reply.final_status())
        headers = {"Content-Length": str(len(body)), "Connection": "close"}
        if content_type:
            headers["Content-Type"] = content_type
        if reply.redirect:
            headers["Location"] = reply.redirect
        headers.update(reply.headers)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if not reply.trickle:
            self.wfile.write(body)
            return
        self.wfile.flush()
        for index in range(len(body)):
            if self.owner._stopping.wait(reply.trickle if index else 0):
                return
            self.wfile.write(body[index:index + 1])
            self.wfile.flush()

    def log_message(self, format: str, *args) -> None:
        pass  # keep test output clean
