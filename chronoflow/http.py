"""The only door for outbound HTTP (see STYLE.md).

``send()`` enforces what every caller needs and must not forget: http/https only, one
deadline for the whole call (held inside blocking reads too), redirects followed by hand
and capped (each hop checked against the caller's policy, and each connected socket's
peer address against its address policy), and a response body read in a stream and capped.
Failures to get a response raise one exception type, ``HttpError``, whose ``permanent``
flag says whether trying again can help. A response with any status is returned, not
raised: a 500 is an answer; call ``raise_for_status()`` to turn it into an ``HttpError``.

Headers and bodies are never logged: they may carry tokens and personal data. Error
messages name the host and port only, never the path or query (tokens live there too).
"""

from __future__ import annotations

import email.message
import email.utils
import heapq
import ipaddress
import itertools
import json as jsonlib
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

SCHEMES = ("http", "https")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRYABLE_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
# Dropped when a redirect leaves the origin: credentials meant for one server only.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
_CHUNK = 64 * 1024
CONNECT_RETRY_DELAY_S = 0.2  # doubled on each further connection retry
USER_AGENT = "ChronoFlow"


class HttpError(Exception):
    """A request that produced no usable response (or a status turned into an error).

    ``permanent`` is True when trying again cannot help (bad URL, refused host, too many
    redirects, a TLS failure, a 4xx other than 408/429); False for connection failures,
    timeouts, 408, 429 and 5xx. ``retry_after`` is what the server asked for, in seconds.
    ``refused`` is True when a policy refused the request (a host or address not
    allowed) rather than the network failing: callers with sticky policy errors need it.
    """

    def __init__(self, message: str, *, permanent: bool, status: int | None = None,
                 retry_after: float | None = None, timed_out: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.timed_out = timed_out
        self.refused = refused


class HostPolicy(Protocol):
    """What ``send(address_policy=...)`` needs: AddressPolicy below, functions/netpolicy.py's.

    ``check_host`` runs before every hop (resolve the name, raise if refused: a clear error
    early); ``allows`` runs on the address and port the socket actually connected to, which
    is what holds when DNS answers differently the second time. ``refusal_note`` ends the
    message of a refused connection (which setting refused it).
    """

    refusal_note: str

    def check_host(self, host: str, port: int) -> None: ...

    def allows(self, address: str, port: int | None = None) -> bool: ...


class AddressPolicy:
    """Which IP addresses a request may reach: an SSRF guard (HTTP_TARGET_DENY_PRIVATE).

    Loopback, private, link-local, multicast, reserved and every other non-global
    address is refused unless it is inside one of ``allow_networks``. ``send()`` checks
    every address the host name resolves to before each hop (for a clear error), and
    then the address the socket actually connected to: a DNS answer that changes between
    the check and the connection (DNS rebinding) still cannot reach a refused address.
    """

    refusal_note = "a private, loopback or link-local address (HTTP_TARGET_DENY_PRIVATE)"

    def __init__(self, allow_networks: tuple[str, ...] | list[str] = ()) -> None:
        self.allow_networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)

    @classmethod
    def for_http_targets(cls) -> AddressPolicy | None:
        """The policy settings ask for HTTP targets, or None when HTTP_TARGET_DENY_PRIVATE is off."""
        if not settings.HTTP_TARGET_DENY_PRIVATE:
            return None
        return cls(settings.HTTP_TARGET_ALLOW_NETWORKS)

    def allows(self, address: str, port: int | None = None) -> bool:
        """Whether `address` may be reached (on any port: HTTP_TARGET_ALLOW_NETWORKS has none)."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(ip in network for network in self.allow_networks):
            return True
        return ip.is_global and not ip.is_multicast

    def check_host(self, host: str, port: int) -> None:
        """Resolve ``host``; raise a permanent HttpError if any of its addresses is refused."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise HttpError(f"Could not resolve host {host}", permanent=False) from None
        for info in infos:
            address = info[4][0]
            if not self.allows(address):
                raise HttpError(f"Host {host!r} resolves to {address}, {self.refusal_note}.", permanent=True,
                                refused=True)


class _RefusedAddress(Exception):
    """Raised from inside urllib3 when a socket connected to a refused address."""


class _Watchdog:
    """One thread that fires every send()'s deadline (issue 12: a Timer thread per call
    cost more than a whole call to a loopback receiver).

    ``at(when, callback)`` returns an alarm for ``cancel()``; callbacks run on the watchdog
    thread, one after the other, so they must be quick (shutting sockets is).
    """

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):  # a forked pool child has the heap but not the thread
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._wake = threading.Condition()
        self._alarms: list[list] = []  # heap of [when, seq, callback]; callback None once cancelled
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def at(self, when: float, callback: Callable[[], None]) -> list:
        alarm = [when, next(self._seq), callback]
        with self._wake:
            heapq.heappush(self._alarms, alarm)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            if self._alarms[0] is alarm:
                self._wake.notify()
        return alarm

    def cancel(self, alarm: list) -> None:
        alarm[2] = None  # left in the heap; dropped when it comes up

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._alarms and self._alarms[0][2] is None:
                    heapq.heappop(self._alarms)
                if not self._alarms:
                    self._wake.wait()
                    continue
                delay = self._alarms[0][0] - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                callback = heapq.heappop(self._alarms)[2]
            callback()


_WATCHDOG = _Watchdog()


class _Deadline:
    """The total deadline of one send(), held inside blocking reads too.

    A socket timeout bounds each wait for data, not their sum: a server sending one byte
    a second never trips it, in the headers or the body. So when the deadline passes, a
    timer shuts down every socket this call connected; the blocked read returns at once,
    and ``expired`` tells send() to report a timeout rather than the short read it saw.
    The sockets are watched through duplicates: TLS wrapping detaches the original, and a
    duplicate cannot be reused by another connection after ours is closed.
    """

    def __init__(self, timeout_s: float) -> None:
        self.expired = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._alarm = _WATCHDOG.at(time.monotonic() + timeout_s, self._expire)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock.dup())
            if self.expired.is_set():
                _shut(self._sockets[-1])

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            for sock in self._sockets:
                _shut(sock)

    def close(self) -> None:
        _WATCHDOG.cancel(self._alarm)
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other end or by us: nothing left to wake


# The send() in progress on this thread: its (deadline, address policy), for the sockets it
# connects. requests connects on the calling thread, so the classes below are made once
# (issue 12: making them per call was a large part of a call's cost).
_call = threading.local()


def _guard(base: type) -> type:
    def _new_conn(self):
        sock = base._new_conn(self)
        deadline, policy = _call.current
        peer = sock.getpeername()
        if policy is not None and not policy.allows(peer[0], peer[1]):
            sock.close()
            raise _RefusedAddress(f"{self.host} connected to {peer[0]}, {policy.refusal_note}")
        deadline.watch(sock)
        return sock

    return type(f"Guarded{base.__name__}", (base,), {"_new_conn": _new_conn})


_GUARDED_POOLS = {
    "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": _guard(HTTPConnectionPool.ConnectionCls)}),
    "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": _guard(HTTPSConnectionPool.ConnectionCls)}),
}


class _GuardedAdapter(HTTPAdapter):
    """A requests adapter whose new sockets are watched by the call's deadline and checked by its policy."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _GUARDED_POOLS


@dataclass
class HttpResponse:
    """A response, its body already read (at most ``max_bytes`` of it: see ``truncated``)."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    text: str
    truncated: bool
    elapsed_ms: int
    url: str  # the final URL, after any redirects followed
    content: bytes = b""  # the body as read (as cut), for binary answers such as files

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400

    @property
    def retry_after(self) -> float | None:
        """The Retry-After header in seconds from now, or None when absent or unreadable."""
        return parse_retry_after(self.headers.get("Retry-After"))

    def json(self) -> Any:
        """The body parsed as JSON. A truncated body is refused rather than half-parsed."""
        if self.truncated:
            raise HttpError("The response body was cut at the size limit; it cannot be read as JSON.",
                            permanent=True, status=self.status)
        try:
            return jsonlib.loads(self.text)
        except ValueError as exc:
            raise HttpError(f"The response body is not JSON: {exc}", permanent=True, status=self.status) from None

    def raise_for_status(self) -> HttpResponse:
        """Raise HttpError for a 4xx/5xx, with ``permanent`` per is_retryable_status()."""
        if self.status < 400:
            return self
        raise HttpError(f"HTTP {self.status}: {self.text[:200]}", permanent=not is_retryable_status(self.status),
                        status=self.status, retry_after=self.retry_after)


def is_retryable_status(status: int) -> bool:
    """5xx, 408 and 429 may succeed later; other statuses will not change by retrying."""
    return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from `now`: either delay-seconds or an HTTP date (RFC 9110)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP dates are GMT; a naive parse means it said "-0000"
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    data: Any = None
    params: Any = None


def send(method: str, url: str, *, headers: Mapping[str, str] | None = None, json: Any = None,
         data: Any = None, params: Any = None, timeout_s: float, max_redirects: int = 5,
         max_bytes: int | None = None, follow_redirects: bool = True,
         allow_host: Callable[[str], bool] | None = None, retries: int | None = None,
         address_policy: HostPolicy | None = None, check_hop: Callable[[str], None] | None = None,
         decode: bool = True) -> HttpResponse:
    """Send one request and read its response.

    - ``timeout_s`` bounds the whole call: connection retries, redirect hops, and every
      read, a server trickling bytes included (the sockets are shut at the deadline).
    - Only http and https URLs, on the first hop and on every redirect.
    - ``check_hop(url)``, when given, is called before every request is sent (the first
      one and each redirect hop) and refuses it by raising: what it raises propagates from
      send() unchanged. Callers count requests or apply their own URL policy here.
    - ``allow_host(hostname) -> bool``, when given, is asked before every hop, the first
      one included; False refuses the request (permanent). This is where SSRF policy goes.
    - Redirects are followed only when ``follow_redirects``, at most ``max_redirects``
      times (more is a permanent error). 301/302/303 turn into a bodiless GET, as browsers
      do; 307/308 repeat the request. Leaving the origin drops Authorization and Cookie.
    - The body is read at most up to ``max_bytes`` (default HTTP_MAX_RESPONSE_BYTES);
      beyond that it is cut and ``truncated`` is True, rather than raising, so a caller
      that only wants the status and a snippet still gets them.
    - ``retries`` (default HTTP_MAX_RETRIES) retries failures to *connect* only: those
      never reached the server, so repeating them cannot duplicate a request.
    - ``address_policy`` (a HostPolicy), when given, is asked about the host before every
      hop and about the address every socket actually connected to (permanent, refused).
    - ``decode=False`` leaves ``text`` empty for a 2xx/3xx (binary bodies: read ``content``);
      an error answer is still decoded, for its reason.
    - Proxy variables and .netrc are ignored: calls go straight to the host that was
      checked, and no credentials are added that the caller did not pass.
    """
    started = time.monotonic()
    max_bytes = settings.HTTP_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
    retries = settings.HTTP_MAX_RETRIES if retries is None else retries
    request = _Request(method.upper(), url, dict(headers or {}), json, data, params)
    deadline = _Deadline(timeout_s)
    _call.current = (deadline, address_policy)
    # One connection at most: a call makes one request at a time, and none outlives it.
    adapter, cookies = _GuardedAdapter(pool_connections=1, pool_maxsize=1), requests.cookies.RequestsCookieJar()
    try:
        for _hop in range(max_redirects + 1):
            _check_hop(request.url, check_hop, allow_host, address_policy)
            response = _open(adapter, request, cookies, started, timeout_s, retries, deadline)
            following = _redirect(request, response) if follow_redirects else None
            if following is None:
                return _read(response, started, timeout_s, max_bytes, deadline, decode)
            requests.cookies.extract_cookies_to_jar(cookies, response.request, response.raw)  # as a browser would
            response.close()
            request = following
    finally:
        _call.current = None
        deadline.close()
        adapter.close()
    raise HttpError(f"Too many redirects (more than {max_redirects}) starting from {_hostport(url)}", permanent=True)


# What requests.Session would add to every request (issue 12: a Session per call, with its
# two default adapters and its settings merged anew, cost more CPU than the request itself).
_DEFAULT_HEADERS = CaseInsensitiveDict({**requests.utils.default_headers(), "User-Agent": USER_AGENT})


def _prepare(request: _Request, cookies: requests.cookies.RequestsCookieJar) -> requests.PreparedRequest:
    """The request as requests.Session.prepare_request makes it, without a Session.

    No proxies, .netrc or environment settings (a Session with trust_env off reads none);
    user info in the URL still becomes Basic auth; cookies set by an earlier hop of this
    call go with the next one.
    """
    headers = CaseInsensitiveDict(_DEFAULT_HEADERS)
    headers.update(request.headers)
    prepared = requests.PreparedRequest()
    prepared.prepare(method=request.method, url=request.url, headers=headers, data=request.data or [],
                     params=request.params or {}, json=request.json, cookies=cookies)
    return prepared


def _check_hop(url: str, check_hop: Callable[[str], None] | None, allow_host: Callable[[str], bool] | None,
               address_policy: HostPolicy | None) -> None:
    """Every check one hop must pass before it is sent; the caller's own check goes first."""
    if check_hop is not None:
        check_hop(url)
    _check_url(url, allow_host)
    if address_policy is not None:
        parts = urlsplit(url)
        address_policy.check_host(parts.hostname, parts.port or _origin(url)[2])


def _check_url(url: str, allow_host: Callable[[str], bool] | None) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise HttpError(f"Invalid URL: {exc}", permanent=True) from None
    if parts.scheme.lower() not in SCHEMES:
        raise HttpError(f"Only http and https URLs are allowed, not {parts.scheme or 'no scheme'!r}.", permanent=True)
    if not parts.hostname:
        raise HttpError("Invalid URL: it has no host.", permanent=True)
    if allow_host is not None and not allow_host(parts.hostname):
        raise HttpError(f"Host {parts.hostname!r} is not allowed.", permanent=True, refused=True)


def _open(adapter: HTTPAdapter, request: _Request, cookies: requests.cookies.RequestsCookieJar,
          started: float, timeout_s: float, retries: int, deadline: _Deadline) -> requests.Response:
    """Send one hop; the body stays unread. Raises HttpError on any failure to get a response."""
    for attempt in range(retries + 1):
        remaining = _remaining(started, timeout_s)
        try:
            return adapter.send(_prepare(request, cookies), stream=True, timeout=(remaining, remaining),
                                verify=True, cert=None, proxies={})
        except requests.RequestException as exc:
            delay = CONNECT_RETRY_DELAY_S * 2**attempt
            # Only failures to connect are retried: the request never left, so no duplicate.
            if deadline.expired.is_set():
                raise _timed_out(timeout_s) from None
            if attempt == retries or not _never_sent(exc) or delay >= _left(started, timeout_s):
                raise _translate(exc, request.url, timeout_s) from None
        except _RefusedAddress as exc:
            raise HttpError(f"Refused to connect: {exc}.", permanent=True, refused=True) from None
        except UnicodeError:  # http.client sends headers as latin-1; say so without echoing the value
            raise HttpError(f"Invalid request to {_hostport(request.url)}: a header has characters HTTP headers "
                            "cannot carry (use ASCII).", permanent=True) from None
        time.sleep(delay)
    raise AssertionError("unreachable")


def _never_sent(exc: requests.RequestException) -> bool:
    return isinstance(exc, requests.ConnectTimeout) or any(
        isinstance(c, urllib3.exceptions.NewConnectionError) for c in _chain(exc)
    )


def _left(started: float, timeout_s: float) -> float:
    return timeout_s - (time.monotonic() - started)


def _remaining(started: float, timeout_s: float) -> float:
    """Seconds left before the deadline; raises the timeout HttpError when none are."""
    remaining = _left(started, timeout_s)
    if remaining <= 0:
        raise _timed_out(timeout_s)
    return remaining


def _timed_out(timeout_s: float) -> HttpError:
    return HttpError(f"Timed out after {timeout_s * 1000:g} ms", permanent=False, timed_out=True)


def _redirect(request: _Request, response: requests.Response) -> _Request | None:
    """The next hop a redirect response asks for, or None when it is not a redirect."""
    location = response.headers.get("Location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    target = urljoin(response.url, location)
    headers = request.headers
    if _origin(target) != _origin(request.url):
        headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
    if (response.status_code == 303 and request.method != "HEAD") or (
        response.status_code in (301, 302) and request.method == "POST"
    ):
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
        return _Request("GET", target, headers)
    return replace(request, url=target, headers=headers, params=None)


def _read(response: requests.Response, started: float, timeout_s: float, max_bytes: int,
          deadline: _Deadline, decode: bool = True) -> HttpResponse:
    body, truncated = bytearray(), False
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            _remaining(started, timeout_s)
            body += chunk
            if len(body) > max_bytes:
                del body[max_bytes:]
                truncated = True
                break
    except requests.RequestException as exc:
        if deadline.expired.is_set():  # the deadline shut the socket under the read
            raise _timed_out(timeout_s) from None
        raise _translate(exc, response.url, timeout_s) from None
    finally:
        response.close()
    if deadline.expired.is_set():  # a body without a length just ends when the socket is shut: it is short
        raise _timed_out(timeout_s)
    return HttpResponse(
        status=response.status_code,
        headers=CaseInsensitiveDict(response.headers),
        # Decoding megabytes of an image as text costs time and memory for nothing.
        text=bytes(body).decode(_charset(response.headers), errors="replace")
        if decode or response.status_code >= 400 else "",
        truncated=truncated,
        elapsed_ms=int((time.monotonic() - started) * 1000),
        url=response.url,
        content=bytes(body),
    )


def _charset(headers: Mapping[str, str]) -> str:
    # Not requests' ISO-8859-1 default for text/*: webhooks answer in UTF-8 in practice.
    message = email.message.Message()
    message["content-type"] = headers.get("Content-Type", "")
    charset = message.get_content_charset() or "utf-8"
    try:
        "".encode(charset)
    except LookupError:
        return "utf-8"
    return charset


def _translate(exc: requests.RequestException, url: str, timeout_s: float) -> HttpError:
    """A requests failure as an HttpError whose message names only host and port."""
    where = _hostport(url)
    causes = list(_chain(exc))
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return HttpError(f"Connection refused to {where}", permanent=False)
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return HttpError(f"Could not resolve host {where.rsplit(':', 1)[0]}", permanent=False)
    tls = [c for c in causes if isinstance(c, ssl.SSLError)]
    if tls or isinstance(exc, requests.exceptions.SSLError):
        reason = tls and (getattr(tls[0], "verify_message", "") or tls[0].reason)
        return HttpError(f"TLS error talking to {where}" + (f": {reason}" if reason else ""), permanent=True)
    if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
        return HttpError(f"Could not connect to {where}", permanent=False)
    if any(isinstance(c, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)) for c in causes):
        return HttpError(f"Timed out after {timeout_s * 1000:g} ms", permanent=False, timed_out=True)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                        requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader)):
        return HttpError(f"Invalid request to {where}: {type(exc).__name__}", permanent=True)
    return HttpError(f"Connection to {where} failed ({type(exc).__name__})", permanent=False)


def _chain(exc: BaseException):
    """The exception, what it wraps (urllib3's .reason, args, __cause__, __context__), recursively."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        stack.extend(e for e in linked if isinstance(e, BaseException))


def _hostport(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), "?")
    except ValueError:
        return "?"
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(scheme)
