"""The sandbox child: runs one user function, then exits.

functions/sandbox.py starts this file as ``python -I -B runner.py [--uid N --gid N]`` in an
empty directory with a minimal environment. It imports only the standard library and
RestrictedPython, never Django: the child must hold nothing worth stealing.

Order of events, so that user code never runs before the locks are on:

1. import everything the run could need (later imports are impossible: no files can open),
   including restricted.py, which holds what user code may touch;
2. drop to the unprivileged user (when started as root), forbid new privileges, and set
   the limits that do not depend on the function: no core, no files written, no new
   processes, no file descriptors beyond the three pipes;
3. say ``ready`` and wait for the job (a pool keeps children waiting here, with no code);
4. set the function's own limits (address space, CPU seconds), then compile the code with
   RestrictedPython and call ``run(ctx)``;
5. send ``done`` with the return value or the error, and exit.

Protocol: one JSON object per line; fd 0 carries the parent's messages, fd 1 the child's.
The parent trusts nothing the child says: every policy (allowlists, counters, caps) is
applied there, and ``ctx`` here is only a set of stubs that ask the parent over the pipe.
"""

import json
import math
import os
import resource
import sys
import time
import traceback
import warnings
from pathlib import Path

# restricted.py lives beside this file; under -I this directory is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from restricted import (  # noqa: E402
    ERRORS,
    MAX_ERROR_CHARS,
    USER_FILENAME,
    PolicyError,
    SdkError,
    StateError,
    as_text,
    compile_user_code,
    restricted_globals,
)

del sys.path[0]

MAX_LINE_CHARS = 8_000  # one ctx.log line; the parent caps the total
# Nesting levels a return value may have: deeper values could not be parsed by the parent
# (or repr'd here) without running out of stack, so they end the run with a clear error.
MAX_RESULT_DEPTH = 100
MAX_TRACEBACK_LINES = 20


# --- The pipe -----------------------------------------------------------------------------

class Pipe:
    """JSON lines to and from the parent over fds 0 and 1."""

    def __init__(self) -> None:
        self._in = os.fdopen(0, "rb", buffering=65536, closefd=False)

    def send(self, message: dict) -> None:
        data = (json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(1, view)
            view = view[written:]

    def receive(self) -> dict:
        line = self._in.readline()
        if not line:
            os._exit(3)  # the parent is gone: nothing to report to
        return json.loads(line)

    def call(self, op: str, args: dict):
        """Ask the parent to do something; raise its refusal as the matching SdkError."""
        self.send({"t": "call", "op": op, "args": args})
        reply = self.receive()
        if reply.get("ok"):
            return reply.get("value")
        error = reply.get("error") or {}
        raise ERRORS.get(error.get("kind"), SdkError)(str(error.get("message", "refused")))


# --- ctx: stubs that ask the parent -------------------------------------------------------

def _json_arg(value, what: str):
    """Values crossing the pipe must be JSON; say which argument was not."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"{what} must be JSON-serialisable ({exc})") from None
    return value


class Response:
    """What ctx.http returns: status_code, headers, text, url, ok and json()."""

    __slots__ = ("status_code", "headers", "text", "url")

    def __init__(self, data: dict) -> None:
        self.status_code = data["status_code"]
        self.headers = data["headers"]
        self.text = data["text"]
        self.url = data["url"]

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 400

    def json(self):
        return json.loads(self.text)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class Http:
    """ctx.http: get/post/put/patch/delete(url, params=, json=, data=, headers=, timeout=)."""

    __slots__ = ("_pipe",)

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe

    def _request(self, method, url, params=None, json=None, data=None, headers=None, timeout=None):
        args = {"method": method, "url": url, "params": params, "json": json, "data": data,
                "headers": headers, "timeout": timeout}
        return Response(self._pipe.call("http", _json_arg(args, "ctx.http arguments")))

    def get(self, url, **kwargs):
        return self._request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._request("POST", url, **kwargs)

    def put(self, url, **kwargs):
        return self._request("PUT", url, **kwargs)

    def patch(self, url, **kwargs):
        return self._request("PATCH", url, **kwargs)

    def delete(self, url, **kwargs):
        return self._request("DELETE", url, **kwargs)


class Message:
    """ctx.message.send({"to": ..., "text": ...[, "attachment": {"kind", "url", "filename", "mimetype"}]})."""

    __slots__ = ("_pipe",)

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe

    def send(self, message):
        return self._pipe.call("message", _json_arg(message, "ctx.message.send's message"))


class State:
    """ctx.state.get(key, default=None) / ctx.state.set(key, value): kept between runs."""

    __slots__ = ("_pipe",)

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe

    def get(self, key, default=None):
        value = self._pipe.call("state.get", {"key": key})
        return default if value is None else value

    def set(self, key, value):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StateError(f"ctx.state values must be JSON (text, numbers, true/false, null, lists, objects): {exc}") from None
        self._pipe.call("state.set", {"key": key, "value": value})


class Ctx:
    """The one argument of run(ctx)."""

    __slots__ = ("http", "message", "state", "env", "input", "_pipe")

    def __init__(self, pipe: Pipe, env: dict, input) -> None:
        self._pipe = pipe
        self.http = Http(pipe)
        self.message = Message(pipe)
        self.state = State(pipe)
        self.env = _ReadOnly(env)
        self.input = input

    def log(self, *args) -> None:
        self._pipe.send({"t": "log", "text": " ".join(as_text(a) for a in args)[:MAX_LINE_CHARS]})

    def __repr__(self) -> str:
        return "<ctx>"

    def sleep(self, seconds) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise PolicyError("ctx.sleep needs a number of seconds, 0 or more")
        time.sleep(seconds)  # the parent's wall-clock deadline covers sleeping


class _ReadOnly(dict):
    """ctx.env: a dict that refuses changes (only this run's copy exists anyway)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("ctx.env is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse


# --- Lock-down ---------------------------------------------------------------------------------

def drop_privileges(uid: int, gid: int) -> None:
    """Become `uid`/`gid` for good (real, effective and saved ids), with no extra groups."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("sandbox: could not drop privileges")


def forbid_new_privileges() -> None:
    """PR_SET_NO_NEW_PRIVS: even an exec of a setuid binary cannot gain rights."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS = 38
    except (OSError, AttributeError, ImportError):
        pass  # not Linux: the other layers still hold


def limit_process() -> None:
    """Limits that do not depend on the function: no core, no file writes, no processes, no new fds."""
    os.closerange(3, 1 << 16)  # belt and braces: the parent passes close_fds=True
    for limit, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NPROC, 0),
        # fds 0-2 are the pipes; with a limit of 3, no file or socket can be opened at all.
        (resource.RLIMIT_NOFILE, 3),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # e.g. a platform without the limit; the others still apply


def limit_run(limits: dict) -> None:
    """The function's own limits, set before its code is compiled or run."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_so_far = used.ru_utime + used.ru_stime
    cpu = int(math.ceil(cpu_so_far + limits["timeout_ms"] / 1000)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL a second later
    memory = limits["max_memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    sys.setrecursionlimit(limits.get("recursion_limit", 1000))


# --- Running ------------------------------------------------------------------------------------

def run_job(pipe: Pipe, job: dict) -> dict:
    """Compile and call run(ctx); return the `done` message."""
    code_obj, errors = compile_user_code(job["code"])
    if code_obj is None:
        return {"t": "done", "ok": False, "error": {"type": "SyntaxError", "message": "; ".join(errors)[:MAX_ERROR_CHARS],
                                                     "traceback": []}}
    ctx = Ctx(pipe, job.get("env") or {}, job.get("input"))
    namespace = restricted_globals(ctx.log)
    try:
        exec(code_obj, namespace)
        value = namespace["run"](ctx)
    except BaseException as exc:  # noqa: B036 - user code may raise anything, SystemExit included
        return failure(exc, job["code"])
    try:
        result = to_json(value, job.get("max_result_bytes", 65536))
    except RecursionError:
        return {"t": "done", "ok": False, "error": {"type": "ResultError", "traceback": [], "message": (
            f"The return value is nested more than {MAX_RESULT_DEPTH} levels deep and cannot be recorded; "
            "return something flatter.")}}
    return {"t": "done", "ok": True, "value": result}


def to_json(value, max_bytes: int):
    """The return value as JSON; other objects as their repr; too large becomes a marked preview.

    Raises RecursionError for a value nested more than MAX_RESULT_DEPTH levels deep.
    """
    try:
        encoded = _dumps_shallow(value)
    except (TypeError, ValueError):
        value = as_text(value)
        encoded = json.dumps(value)
    if len(encoded) <= max_bytes:
        return value
    return {"truncated": True, "bytes": len(encoded), "preview": encoded[:max_bytes] + "…[truncated]"}


def _dumps_shallow(value) -> str:
    """json.dumps, with a recursion limit that lets it descend only MAX_RESULT_DEPTH levels.

    The C encoder spends one level of the recursion limit per nested list or dict, so a
    limit just above the frames already in use bounds the value's depth, cheaply.
    """
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + MAX_RESULT_DEPTH + 5)  # +5: json.dumps' own Python frames
    try:
        return json.dumps(value, allow_nan=False)
    finally:
        sys.setrecursionlimit(previous)


def failure(exc: BaseException, code: str) -> dict:
    limit = "memory" if isinstance(exc, MemoryError) else "recursion" if isinstance(exc, RecursionError) else None
    message = _safe_str(exc)
    return {"t": "done", "ok": False, "limit": limit, "error": {
        "type": str(type(exc).__name__)[:100],
        "message": message[:MAX_ERROR_CHARS],
        "traceback": user_traceback(exc, code),
    }}


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:  # noqa: B036 - a user __str__ may raise anything
        return "(the error's message could not be shown)"


def user_traceback(exc: BaseException, code: str) -> list:
    """The user's own frames only, oldest first; repeats (deep recursion) collapsed."""
    lines = code.splitlines()
    entries = []
    # walk_tb, not extract_tb: no linecache, which would try to open platform files.
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename != USER_FILENAME:
            continue  # runner and library frames are platform internals
        source = lines[lineno - 1].strip() if lineno and 0 < lineno <= len(lines) else ""
        entries.append(f"line {lineno}, in {frame.f_code.co_name}: {source}")
    collapsed = []
    for entry in entries:
        if collapsed and collapsed[-1][0] == entry:
            collapsed[-1][1] += 1
        else:
            collapsed.append([entry, 1])
    out = [e if n == 1 else f"{e}  [repeated {n} times]" for e, n in collapsed]
    if len(out) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        out = out[:half] + [f"... {len(out) - 2 * half} more lines ..."] + out[-half:]
    return out


def parse_args(argv: list) -> tuple:
    uid = gid = None
    if "--uid" in argv:
        uid = int(argv[argv.index("--uid") + 1])
        gid = int(argv[argv.index("--gid") + 1])
    return uid, gid


def main() -> None:
    uid, gid = parse_args(sys.argv[1:])
    if uid is not None:
        drop_privileges(uid, gid)
    forbid_new_privileges()
    warnings.simplefilter("ignore")  # compile-time SyntaxWarnings would only reach stderr
    limit_process()
    pipe = Pipe()
    pipe.send({"t": "ready", "pid": os.getpid()})
    job = pipe.receive()
    try:
        limit_run(job["limits"])
        done = run_job(pipe, job)
    except MemoryError:
        done = {"t": "done", "ok": False, "limit": "memory",
                "error": {"type": "MemoryError", "message": "", "traceback": []}}
    try:
        pipe.send(done)
    except (TypeError, ValueError, MemoryError):
        pipe.send({"t": "done", "ok": False, "error": {"type": "Exception", "message": "the result could not be sent",
                                                       "traceback": []}})
    os._exit(0)  # no interpreter teardown: nothing of the user's runs after this


if __name__ == "__main__":
    main()
