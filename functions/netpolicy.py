"""Where ctx.http may go (SSRF policy): the rules only; chronoflow/http.py sends.

ctx.http calls ``chronoflow.http.send`` with ``check_target`` as its per-hop URL check
and an ``AllowlistPolicy`` as its address policy, so each hop (redirects included) is
checked here before it is sent, and the address each socket actually connected to is
checked here too.

A URL passes when:

- it is plain ``http``/``https`` with no credentials (``user@host``), backslashes,
  whitespace or control characters: the forms where URL parsers disagree;
- its host is written canonically: a name, a dotted-quad IPv4 or a bracketed IPv6. The
  numeric tricks that resolvers accept (``2130706433``, ``0x7f000001``, ``127.1``,
  ``0177.0.0.1``) are refused outright;
- the host matches an entry of FUNCTION_HTTP_ALLOWLIST exactly (``api.example.org``, or
  ``api.example.org:8443`` to allow one port only); no wildcards, no subdomains;
- every address the host resolves to is public, unless that address (and port) is
  itself an allowlist entry. IPv4-mapped, 6to4, Teredo and NAT64 IPv6 addresses are
  judged by the IPv4 address inside them.

The name is resolved for the check, and resolved again when the HTTP client connects;
a DNS answer that changes in between (DNS rebinding) is caught by the second check, on
the connected socket's peer address, before a byte of the request is sent.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_CHARS = 4096
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """The URL is not allowed; the message says why, naming no secret part of the URL."""


@dataclass(frozen=True)
class Entry:
    """One allowlist entry: a host, and optionally the only port allowed on it."""

    host: str
    port: int | None = None

    @property
    def ip(self) -> IPAddress | None:
        return _ip_or_none(self.host)

    def matches(self, host: str, port: int) -> bool:
        return self.host == host and (self.port is None or self.port == port)


@dataclass(frozen=True)
class Target:
    """A URL that passed: its canonical form, and where it goes."""

    url: str
    host: str
    port: int


def parse_allowlist(entries: Iterable[str]) -> list[Entry]:
    """FUNCTION_HTTP_ALLOWLIST entries (``host``, ``host:port``, ``[v6]:port``) as Entries."""
    parsed = []
    for raw in entries:
        text = raw.strip().lower()
        if not text:
            continue
        parts = urlsplit("//" + text)
        try:
            port = parts.port
        except ValueError:
            continue  # an unreadable entry allows nothing
        host = canonical_host(parts.hostname or "")
        if host:
            parsed.append(Entry(host, port))
    return parsed


def check_url(url: object, allowlist: list[Entry], resolve: Callable[[str, int], list[str]] | None = None) -> Target:
    """The canonical target of `url` if policy allows it, its DNS answers included; raises Refused otherwise."""
    target = check_target(url, allowlist)
    check_addresses(target.host, target.port, allowlist, resolve)
    return target


def check_target(url: object, allowlist: list[Entry]) -> Target:
    """`url`'s canonical target if its form and host:port pass (no DNS); raises Refused otherwise."""
    scheme, host, port, parts = _split(url)
    if not any(entry.matches(host, port) for entry in allowlist):
        raise Refused(f"Host {_hostport(host, port)} is not in FUNCTION_HTTP_ALLOWLIST.")
    netloc = _hostport(host, port) if port != DEFAULT_PORTS[scheme] else _bracketed(host)
    return Target(urlunsplit((scheme, netloc, parts.path, parts.query, "")), host, port)


def check_addresses(host: str, port: int, allowlist: list[Entry],
                    resolve: Callable[[str, int], list[str]] | None = None) -> None:
    """Raise Refused unless every address `host` resolves to may be reached on `port`."""
    for address in _addresses(host, port, resolve or resolve_host):
        if not address_allowed(address, port, allowlist):
            raise Refused(f"Host {_hostport(host, port)} resolves to a non-public address ({address}).")


def address_allowed(address: IPAddress, port: int | None, allowlist: list[Entry]) -> bool:
    """Public addresses may be reached; others only when they (and the port) are an allowlist entry."""
    return is_public(address) or _allowlisted_ip(address, port, allowlist)


class AllowlistPolicy:
    """FUNCTION_HTTP_ALLOWLIST's address rules as chronoflow.http's address policy (a HostPolicy).

    ``check_host`` raises Refused (not HttpError), so ctx.http can tell a policy refusal
    from a network failure; a refused peer address comes back as HttpError(refused=True).
    """

    refusal_note = "a non-public address not on FUNCTION_HTTP_ALLOWLIST"

    def __init__(self, allowlist: list[Entry]) -> None:
        self.allowlist = allowlist

    def check_host(self, host: str, port: int) -> None:
        check_addresses(canonical_host(host) or host, port, self.allowlist)

    def allows(self, address: str, port: int | None = None) -> bool:
        ip = _ip_or_none(address.split("%", 1)[0])  # drop an IPv6 zone id
        return ip is not None and address_allowed(ip, port, self.allowlist)


def _split(url: object):
    if not isinstance(url, str) or not url:
        raise Refused("The URL must be text.")
    if len(url) > MAX_URL_CHARS:
        raise Refused(f"The URL is longer than {MAX_URL_CHARS} characters.")
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in url):
        raise Refused("The URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("The URL cannot be read (bad host or port).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"Only http and https URLs are allowed, not {scheme or 'no scheme'!r}.")
    if "@" in parts.netloc:
        raise Refused("URLs with credentials (user@host) are not allowed.")
    host = canonical_host(parts.hostname or "")
    if not host:
        raise Refused("The URL's host is not a plain host name or IP address.")
    return scheme, host, port or DEFAULT_PORTS[scheme], parts


def canonical_host(host: str) -> str:
    """The host in one spelling (lower case, no trailing dot), or '' for any odd form."""
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6 (urlsplit removed the brackets)
        ip = _ip_or_none(host)
        return str(ip) if ip is not None and ip.version == 6 else ""
    if not HOSTNAME.match(host):
        return ""
    if NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        # Looks numeric: only a canonical dotted quad is accepted (no 127.1, 0x7f.1, 017.0.0.1).
        ip = _ip_or_none(host)
        return host if ip is not None and ip.version == 4 and str(ip) == host else ""
    return host


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(f"Could not resolve host {host}.") from None
    return [info[4][0] for info in infos]


def _addresses(host: str, port: int, resolve: Callable[[str, int], list[str]]) -> list[IPAddress]:
    literal = _ip_or_none(host)
    if literal is not None:
        return [literal]
    addresses = [_ip_or_none(a.split("%", 1)[0]) for a in resolve(host, port)]
    if not addresses or None in addresses:
        raise Refused(f"Could not resolve host {host} to IP addresses.")
    return addresses


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), else itself."""
    if address.version == 4:
        return address
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses only."""
    inner = embedded_ipv4(address)
    return all(a.is_global and not a.is_multicast and not a.is_unspecified for a in {address, inner})


def _allowlisted_ip(address: IPAddress, port: int | None, allowlist: list[Entry]) -> bool:
    inner = embedded_ipv4(address)
    return any(entry.ip in (address, inner) and (entry.port is None or entry.port == port) for entry in allowlist)


def _ip_or_none(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _hostport(host: str, port: int) -> str:
    return f"{_bracketed(host)}:{port}"
