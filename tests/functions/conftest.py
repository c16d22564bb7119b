"""The functions app's cast: canaries, a listener that must hear nothing, a fake allowed host.

Escape tests are judged by these, never by error text:
- a secret in the worker's environment, a secret in a file, and Django's SECRET_KEY must
  not appear anywhere in what a run recorded;
- a TCP listener on 127.0.0.1 must receive no connection;
- the fake allowed host (a LocalServer) counts the requests that really arrived.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from functions import sandbox
from functions.models import UserFunction
from tests.localserver import LocalServer

CANARY_ENV = "CHRONOFLOW_TEST_CANARY"


@dataclass
class Canaries:
    env_secret: str
    file_secret: str
    file_path: Path
    secret_key: str

    def assert_not_leaked(self, report) -> None:
        """Nothing the run recorded (result, error, logs) contains any of the secrets."""
        recorded = json.dumps(report.as_result(), default=str) + report.error_text
        for secret in (self.env_secret, self.file_secret, self.secret_key):
            assert secret not in recorded


@pytest.fixture
def canaries(monkeypatch, tmp_path, settings) -> Canaries:
    env_secret = "env-canary-" + secrets.token_hex(8)
    file_secret = "file-canary-" + secrets.token_hex(8)
    monkeypatch.setenv(CANARY_ENV, env_secret)
    path = tmp_path / "secret.txt"
    path.write_text(file_secret)
    path.chmod(0o600)
    settings.SECRET_KEY = "django-secret-canary-" + secrets.token_hex(8)
    return Canaries(env_secret, file_secret, path, settings.SECRET_KEY)


@dataclass
class Listener:
    """A TCP socket on 127.0.0.1 that counts every connection made to it."""

    sock: socket.socket
    connections: list = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def serve(self) -> None:
        self.sock.settimeout(0.05)  # poll, so that the fixture can stop it at once
        while not self.stopping.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(peer)
            conn.close()


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    canary = Listener(sock)
    thread = threading.Thread(target=canary.serve, daemon=True)
    thread.start()
    yield canary
    time.sleep(0.05)  # a connection in flight would land now
    canary.stopping.set()
    thread.join(timeout=2)
    sock.close()


@pytest.fixture
def allowed_host(settings):
    """A real HTTP server on 127.0.0.1 whose port (only) is on FUNCTION_HTTP_ALLOWLIST."""
    with LocalServer() as server:
        settings.FUNCTION_HTTP_ALLOWLIST = [f"127.0.0.1:{server.port}"]
        yield server


@pytest.fixture
def make_function(db):
    """A function saved without validation, so the sandbox's own checks are what is tested."""
    counter = iter(range(1, 10_000))

    def make(code: str, **fields) -> UserFunction:
        defaults = {"name": f"fn-{next(counter)}", "timeout_ms": 2000, "max_memory_mb": 128}
        return UserFunction.objects.create(code=code, **{**defaults, **fields})

    return make


@pytest.fixture
def run_code(make_function):
    """Run `code` once; returns the FunctionReport."""

    def run(code: str, input=None, **fields):
        return make_function(code, **fields).run_once(input=input)

    return run


def sandbox_children() -> list[int]:
    """Pids of live processes whose parent is this (test) process."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == me and fields[0] != "Z":
            found.append(int(entry))
    return found


@pytest.fixture
def worker_survives(run_code, settings):
    """After the test: this process still runs functions, and no sandbox process outlived its run."""
    yield
    report = run_code("def run(ctx):\n    return 6 * 7\n")
    assert report.ok and report.value == 42
    assert len(sandbox_children()) <= settings.FUNCTION_POOL_SIZE


@pytest.fixture(autouse=True, scope="session")
def _stop_pool():
    yield
    sandbox.POOL.close()
