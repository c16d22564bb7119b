"""The only code in ChronoFlow that starts a process: one locked-down child per function run.

Each run gets a fresh interpreter (``python -I -B functions/runner.py``), never a fork of
the worker, which holds settings, secrets and database connections. The child starts in
an empty directory with a two-variable environment, no file descriptors but its three
pipes, in a session of its own; as root it drops to FUNCTION_SANDBOX_USER. runner.py
applies the resource limits before any user code exists in the process.

The parent enforces wall-clock time (it kills the child's whole process group at
``timeout_ms``) and caps every byte the child sends. It speaks JSON lines with the child
and hands each ``ctx`` call to a ``Handler`` (functions/sdk.py), which holds the policy.

Starting Python costs tens of milliseconds, so a small pool keeps children started and
waiting, with no code: each is still used for exactly one run, then killed.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
CHILD_ENV = {"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}
_READ_CHUNK = 65536

LIMIT_MESSAGES = {
    "timeout": "Time limit: stopped after {timeout_ms} ms (timeout_ms).",
    "cpu": "CPU limit: the function used more CPU time than timeout_ms allows (RLIMIT_CPU).",
    "memory": "Memory limit: the function needed more than {max_memory_mb} MB (max_memory_mb).",
    "output": "Output limit: the function sent the platform more than {max_output} bytes.",
    "recursion": "Recursion limit: calls nested too deeply.",
}


@dataclass(frozen=True)
class Limits:
    """What the child is allowed: wall-clock time and address space."""

    timeout_ms: int
    max_memory_mb: int


@dataclass
class Result:
    """How a run ended. ``limit`` names the limit that stopped it, if one did."""

    ok: bool
    value: Any = None
    error: dict = field(default_factory=dict)  # type, message, traceback (the user's lines only)
    limit: str | None = None
    duration_ms: int = 0
    platform_failure: bool = False  # the sandbox itself failed: retrying may help


class Handler(Protocol):
    """The parent half of ctx (functions/sdk.py)."""

    def log(self, text: str) -> None: ...

    def call(self, op: str, args: Any, deadline: float) -> dict: ...


class SandboxUnavailable(Exception):
    """The child could not be started or did not become ready."""


class _Stop(Exception):
    """Ends the conversation with a child; ``result`` is how the run ended."""

    def __init__(self, result: Result) -> None:
        self.result = result


# --- One child ---------------------------------------------------------------------------

class Child:
    """One sandbox process and its pipes."""

    def __init__(self) -> None:
        self.workdir = tempfile.mkdtemp(prefix="chronoflow-fn-")
        os.chmod(self.workdir, 0o555)  # empty, and not writable by the sandbox user
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-B", str(RUNNER), *_drop_arguments()],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                cwd=self.workdir, env=dict(CHILD_ENV), close_fds=True, start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise SandboxUnavailable(f"could not start the sandbox: {exc.strerror}") from None
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            os.set_blocking(pipe.fileno(), False)
        self._writable = selectors.DefaultSelector()
        self._writable.register(self.popen.stdin.fileno(), selectors.EVENT_WRITE)
        self._readable = selectors.DefaultSelector()
        self._readable.register(self.popen.stdout.fileno(), selectors.EVENT_READ)
        self._buffer = bytearray()
        self._received = 0
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_ready(self, deadline: float) -> None:
        if self.ready:
            return
        try:
            message = self.receive(deadline, max_bytes=4096)
        except _Stop:
            message = {}
        if message.get("t") != "ready":
            raise SandboxUnavailable(f"the sandbox did not start ({self.diagnostics() or 'no output'})")
        self.ready = True
        self._received = 0

    def send(self, message: dict, deadline: float) -> None:
        """Write one line; a child that stops reading cannot block us past the deadline."""
        data = memoryview((json.dumps(message, separators=(",", ":")) + "\n").encode())
        fd = self.popen.stdin.fileno()
        while data:
            if not self._writable.select(_left(deadline)) and _left(deadline) <= 0:
                raise _Stop(Result(ok=False, limit="timeout"))
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _Stop(self.exit_result()) from None

    def receive(self, deadline: float, max_bytes: int) -> dict:
        """Read one line; over `max_bytes` in total is the output limit."""
        fd = self.popen.stdout.fileno()
        while (end := self._buffer.find(b"\n")) < 0:
            if self._received > max_bytes:
                raise _Stop(Result(ok=False, limit="output"))
            if not self._readable.select(_left(deadline)) and _left(deadline) <= 0:
                raise _Stop(Result(ok=False, limit="timeout"))
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                raise _Stop(self.exit_result())
            self._buffer += chunk
            self._received += len(chunk)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return _parse(line)

    def exit_result(self) -> Result:
        """The child closed its pipe: how did it end?"""
        try:
            code = self.popen.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.popen.returncode
        if code == -signal.SIGXCPU:
            return Result(ok=False, limit="cpu")
        stderr = self.diagnostics()
        if "MemoryError" in stderr or "Cannot allocate memory" in stderr or "out of memory" in stderr:
            return Result(ok=False, limit="memory")
        log.warning("sandbox child ended with code %s: %s", code, stderr[-2000:] or "(no output)")
        name = signal.Signals(-code).name if code < 0 and -code in signal.valid_signals() else f"code {code}"
        hint = " (the CPU hard limit, or the system ran out of memory)" if code == -signal.SIGKILL else ""
        return Result(ok=False, error={"type": "SandboxError", "traceback": [],
                                       "message": f"The sandbox process ended unexpectedly ({name}){hint}."})

    def diagnostics(self) -> str:
        """What the child wrote to stderr (for the worker's log, never the run record)."""
        try:
            return os.read(self.popen.stderr.fileno(), 8192).decode("utf-8", "replace")
        except (BlockingIOError, OSError, ValueError):
            return ""

    def kill(self) -> None:
        """Kill the whole process group, reap the child, remove its directory."""
        if self.popen.returncode is None:  # not reaped yet, so the pid cannot have been reused
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.popen.wait()
        self._writable.close()
        self._readable.close()
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse(line: bytes) -> dict:
    """A message from the child: one JSON object, or the run ends as a protocol error."""
    try:
        message = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict):
        raise _Stop(Result(ok=False, error={"type": "SandboxError", "message": "The sandbox sent an unreadable message.",
                                            "traceback": []}))
    return message


def _drop_arguments() -> list[str]:
    """--uid/--gid of FUNCTION_SANDBOX_USER when we run as root; nothing otherwise."""
    if os.geteuid() != 0 or not settings.FUNCTION_SANDBOX_USER:
        return []
    try:
        user = pwd.getpwnam(settings.FUNCTION_SANDBOX_USER)
    except KeyError:
        raise SandboxUnavailable(f"FUNCTION_SANDBOX_USER {settings.FUNCTION_SANDBOX_USER!r} does not exist") from None
    return ["--uid", str(user.pw_uid), "--gid", str(user.pw_gid)]


# --- The pool ------------------------------------------------------------------------------

class Pool:
    """Children started ahead of time, waiting for a job. Each one runs once."""

    def __init__(self) -> None:
        self._idle: deque[Child] = deque()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self) -> Child:
        with self._lock:
            self._forget_after_fork()
            while self._idle:
                child = self._idle.popleft()
                if child.alive:
                    return child
                child.kill()
        return Child()

    def refill(self) -> None:
        """Top the pool up to FUNCTION_POOL_SIZE (0 turns pre-starting off)."""
        with self._lock:
            self._forget_after_fork()
            while len(self._idle) < settings.FUNCTION_POOL_SIZE:
                try:
                    self._idle.append(Child())
                except SandboxUnavailable as exc:
                    log.warning("could not pre-start a sandbox child: %s", exc)
                    return

    def wait_ready(self, deadline: float) -> None:
        """Block until every idle child has said it is ready (or the deadline passes)."""
        with self._lock:
            for child in list(self._idle):
                try:
                    child.wait_ready(deadline)
                except SandboxUnavailable:
                    self._idle.remove(child)
                    child.kill()

    def close(self) -> None:
        with self._lock:
            if os.getpid() != self._pid:
                return
            while self._idle:
                self._idle.popleft().kill()

    def __len__(self) -> int:
        return len(self._idle)

    def _forget_after_fork(self) -> None:
        # A forked worker inherits the list but not the children: they belong to the parent.
        if os.getpid() != self._pid:
            self._idle = deque()
            self._pid = os.getpid()


POOL = Pool()
atexit.register(POOL.close)


def warm(wait: bool = False) -> None:
    """Pre-start the pool now (e.g. when a worker process starts); `wait` until all are ready."""
    POOL.refill()
    if wait:
        POOL.wait_ready(time.monotonic() + settings.FUNCTION_START_TIMEOUT_MS / 1000)


# --- A run -------------------------------------------------------------------------------------

def run(code: str, limits: Limits, handler: Handler, *, env: dict, input: Any, refill: bool = True) -> Result:
    """Run `code`'s run(ctx) in a fresh child under `limits`; ctx calls go to `handler`."""
    try:
        child = POOL.take()
    except SandboxUnavailable as exc:
        return _unavailable(exc)
    try:
        return _converse(child, code, limits, handler, env, input)
    except SandboxUnavailable as exc:
        return _unavailable(exc)
    finally:
        child.kill()
        if refill:
            POOL.refill()


def _unavailable(exc: SandboxUnavailable) -> Result:
    log.error("function sandbox unavailable: %s", exc)
    return Result(ok=False, platform_failure=True,
                  error={"type": "SandboxError", "message": f"The sandbox is unavailable: {exc}", "traceback": []})


def _converse(child: Child, code: str, limits: Limits, handler: Handler, env: dict, input: Any) -> Result:
    child.wait_ready(time.monotonic() + settings.FUNCTION_START_TIMEOUT_MS / 1000)
    started = time.monotonic()
    deadline = started + limits.timeout_ms / 1000
    job = {"t": "job", "code": code, "env": env, "input": input,
           "limits": {"timeout_ms": limits.timeout_ms, "max_memory_mb": limits.max_memory_mb},
           "max_result_bytes": settings.FUNCTION_MAX_RESULT_BYTES}
    try:
        child.send(job, deadline)
        result = _serve(child, handler, deadline)
    except _Stop as stop:
        result = stop.result
    result.duration_ms = int((time.monotonic() - started) * 1000)
    if result.limit:
        detail = result.error.get("message")
        result.error = {"type": result.error.get("type") or "LimitExceeded", "traceback": result.error.get("traceback", []),
                        "message": limit_message(result.limit, limits) + (f" ({detail})" if detail else "")}
    return result


def _serve(child: Child, handler: Handler, deadline: float) -> Result:
    """Answer the child's messages until it reports `done`."""
    max_bytes = settings.FUNCTION_MAX_OUTPUT_BYTES
    while True:
        message = child.receive(deadline, max_bytes)
        kind = message.get("t")
        if kind == "log":
            handler.log(str(message.get("text", ""))[: settings.FUNCTION_MAX_LOG_BYTES])
        elif kind == "call":
            reply = handler.call(str(message.get("op")), message.get("args"), deadline)
            if time.monotonic() >= deadline:
                return Result(ok=False, limit="timeout")
            child.send(reply, deadline)
        elif kind == "done":
            return _done(message)
        else:
            return Result(ok=False, error={"type": "SandboxError", "message": "The sandbox sent an unknown message.",
                                           "traceback": []})


def _done(message: dict) -> Result:
    """The child's report, checked: it is untrusted, so shapes and sizes are enforced here."""
    if message.get("ok") is True:
        return Result(ok=True, value=cap_value(message.get("value"), settings.FUNCTION_MAX_RESULT_BYTES))
    error = message.get("error") if isinstance(message.get("error"), dict) else {}
    traceback = error.get("traceback") if isinstance(error.get("traceback"), list) else []
    limit = message.get("limit") if message.get("limit") in ("memory", "recursion") else None
    return Result(ok=False, limit=limit, error={
        "type": str(error.get("type") or "Exception")[:100],
        "message": str(error.get("message") or "")[:2000],
        "traceback": [str(line)[:500] for line in traceback[:25]],
    })


def cap_value(value: Any, max_bytes: int) -> Any:
    """`value` if its JSON fits in `max_bytes`, else a marked preview of it."""
    encoded = json.dumps(value)
    if len(encoded) <= max_bytes:
        return value
    return {"truncated": True, "bytes": len(encoded), "preview": encoded[:max_bytes] + "…[truncated]"}


def limit_message(limit: str, limits: Limits) -> str:
    template = LIMIT_MESSAGES.get(limit, "Limit reached: {limit}.")
    return template.format(limit=limit, timeout_ms=limits.timeout_ms, max_memory_mb=limits.max_memory_mb,
                           max_output=settings.FUNCTION_MAX_OUTPUT_BYTES)
