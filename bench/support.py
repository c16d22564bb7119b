"""Pieces the benchmarks and the production smoke share: a scratch PostgreSQL database, a
loopback webhook receiver, a free port, a private redis-server, a process's CPU time.

Standard library plus what requirements.txt installs (psycopg, redis) only: .ci/smoke_production.py
runs it from a venv built from requirements.txt alone.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass


# --------------------------------------------------------------------------- PostgreSQL

def scratch_database(server_url: str, name: str) -> str:
    """(Re)create database ``name`` on ``server_url``'s server; returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- network

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the request line arrived, before any delay
    path: str
    idempotency_key: str
    body: object


class Receiver(http.server.ThreadingHTTPServer):
    """A loopback webhook receiver on 127.0.0.1: answers 200 ``{}`` to every POST after ``delay_s``.

    With ``record``, each request is kept in ``received`` (time of arrival, path,
    Idempotency-Key, JSON body), so a bench can tell lateness, losses and duplicates.
    """

    daemon_threads = True
    request_queue_size = 1024  # a burst of connections must not be refused by a short listen backlog

    def __init__(self, delay_s: float = 0.0, record: bool = False):
        self.delay_s = delay_s
        self.record = record
        self.received: list[Received] = []
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def clear(self) -> None:
        with self._lock:
            self.received.clear()


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        at = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server: Receiver = self.server
        if server.record:
            entry = Received(at, self.path, self.headers.get("Idempotency-Key", ""), json.loads(body or b"null"))
            with server._lock:
                server.received.append(entry)
        if server.delay_s:
            time.sleep(server.delay_s)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), so a bench shares no broker."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not installed: pass --redis URL instead")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chronoflow-bench-redis-")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the private redis-server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- processes

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` and its live children (a prefork pool's), from /proc."""
    total = 0.0
    for candidate in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{candidate}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []
