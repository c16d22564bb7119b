"""Real faults on 127.0.0.1 for the reliability tests: nothing here is a mock.

- ``RedisServer``: a private redis-server on a free port, killed and restarted at will
  (never the machine's shared Redis).
- ``TcpProxy``: a TCP relay between the processes and PostgreSQL; ``cut()`` closes every
  relayed connection and refuses new ones, ``restore()`` accepts them again.
- ``SqliteCut``: the processes open the SQLite file through a directory symlink;
  ``cut()`` removes the link (opening the database fails), ``restore()`` puts it back.
- ``WebServer``: the gunicorn command `make run` starts, on a free port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from chronoflow import processes
from tests.localserver import closed_port
from tests.processes import Process, process_env


class RedisServer:
    """redis-server on 127.0.0.1 and a free port, without persistence: a restart loses everything."""

    def __init__(self, workdir: Path) -> None:
        self.port = closed_port()
        self.workdir = workdir
        self.popen: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = (self.workdir / f"redis-{self.port}.log").open("a")
        self.popen = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT)
        _wait_for_port(self.port)
        return self

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.kill()


class TcpProxy:
    """Relays 127.0.0.1:<port> to a target address until cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = closed_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a dead database host would."""
        listener, self._listener = self._listener, None
        if listener:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _close(conn)

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.cut()


class SqliteCut:
    """A path to the SQLite test database through a symlinked directory that can vanish."""

    def __init__(self, db_file: Path, workdir: Path) -> None:
        self.real_dir = db_file.parent
        self.link = workdir / "db-link"
        self.path = self.link / db_file.name
        os.symlink(self.real_dir, self.link)

    def cut(self) -> None:
        os.unlink(self.link)

    def restore(self) -> None:
        os.symlink(self.real_dir, self.link)


class WebServer(Process):
    """The web process (gunicorn) of `make run`, on a free port."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.port = closed_port()
        super().__init__("web", processes.web_command("127.0.0.1", self.port), log_dir, process_env(**env))
        _wait_for_port(self.port, timeout=30)

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
