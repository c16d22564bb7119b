"""The sandbox child: runs one user function, then exits.

functions/sandbox.py starts this file as ``python -I -B runner.py [--uid N --gid N]`` in an
empty directory with a minimal environment. It imports only the standard library and
RestrictedPython, never Django: the child must hold nothing worth stealing.

Order of events, so that user code never runs before the locks are on:

1. import everything the run could need (later imports are impossible: no files can open);
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

import ast
import datetime as _datetime
import json
import math
import operator
import os
import re
import resource
import sys
import time
import traceback
import warnings

import _strptime  # noqa: F401 - datetime.strptime imports it lazily, and later no file can be opened
from RestrictedPython import compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

USER_FILENAME = "<function>"
MAX_CODE_BYTES = 200_000
MAX_LINE_CHARS = 8_000  # one ctx.log line; the parent caps the total
MAX_ERROR_CHARS = 2_000
MAX_TRACEBACK_LINES = 20

# Attribute names refused on any object, beyond RestrictedPython's own list: the
# str.format family reaches attributes through field names ("{0.__class__}").
DENIED_ATTRIBUTES = frozenset({"format", "format_map", "mro"}) | INSPECT_ATTRIBUTES


# --- Errors the user's code can see and catch -------------------------------------------

class SdkError(Exception):
    """Base of the errors ctx raises."""


class HttpError(SdkError):
    """ctx.http could not get a response (refused connection, timeout, too large, ...)."""


class PolicyError(SdkError):
    """The platform refused the call (host or recipient not allowed, bad arguments)."""


class LimitExceeded(SdkError):
    """A per-run limit was reached (max_http, max_messages, state size)."""


class MessageError(SdkError):
    """ctx.message.send could not send the message."""


class StateError(SdkError):
    """ctx.state refused a key or value (not JSON, too large)."""


ERRORS = {cls.__name__: cls for cls in (SdkError, HttpError, PolicyError, LimitExceeded, MessageError, StateError)}


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
    """ctx.message.send({"to": ..., "text": ...})."""

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
        self._pipe.send({"t": "log", "text": " ".join(_text(a) for a in args)[:MAX_LINE_CHARS]})

    def __repr__(self) -> str:
        return "<ctx>"

    def sleep(self, seconds) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise PolicyError("ctx.sleep needs a number of seconds, 0 or more")
        time.sleep(seconds)  # the parent's wall-clock deadline covers sleeping


def _text(value) -> str:
    return value if isinstance(value, str) else repr(value)


class _ReadOnly(dict):
    """ctx.env: a dict that refuses changes (only this run's copy exists anyway)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("ctx.env is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse


# --- Curated helpers: functions and plain objects, never module objects -----------------

class Helpers:
    """A read-only bag of functions standing in for a module, e.g. json.loads."""

    __slots__ = ("_label", "_members")

    def __init__(self, label: str, **members) -> None:
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_members", members)

    def __getattr__(self, name: str):
        try:
            return self._members[name]
        except KeyError:
            raise AttributeError(f"{self._label}.{name} is not available in functions") from None

    def __setattr__(self, name, value):
        raise TypeError(f"{self._label} is read-only")

    def __repr__(self) -> str:
        return f"<helpers {self._label}>"


def _math_helpers() -> Helpers:
    names = [n for n in dir(math) if not n.startswith("_")]
    return Helpers("math", **{n: getattr(math, n) for n in names})


HELPERS = {
    "json": Helpers("json", loads=json.loads, dumps=json.dumps),
    "math": _math_helpers(),
    "re": Helpers("re", **{n: getattr(re, n) for n in (
        "match", "search", "fullmatch", "findall", "finditer", "sub", "subn", "split", "escape", "compile",
        "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S", "VERBOSE", "X", "ASCII", "A")}),
    "datetime": Helpers("datetime", datetime=_datetime.datetime, date=_datetime.date, time=_datetime.time,
                        timedelta=_datetime.timedelta, timezone=_datetime.timezone),
}


# Modules C code imports on its own behalf from inside a user frame (datetime.strptime
# calls PyImport_Import, which goes through the frame's __import__). User code cannot
# name them: RestrictedPython refuses imports of names starting with "_".
C_LEVEL_IMPORTS = frozenset({"_strptime"})


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    """`import json` / `from datetime import datetime` give the curated helpers, nothing else."""
    if level == 0 and name in HELPERS:
        return HELPERS[name]
    if level == 0 and name in C_LEVEL_IMPORTS and name in sys.modules:
        return sys.modules[name]
    raise ImportError(f"import of {name!r} is not allowed; available: {', '.join(sorted(HELPERS))}")


# --- Guards ----------------------------------------------------------------------------------

def guarded_getattr(obj, name, getattr=getattr):
    """RestrictedPython's safer_getattr, refusing the format family and `mro` on anything.

    A missing attribute raises AttributeError, as in Python (safer_getattr's default
    would turn `x.typo` into None).
    """
    if isinstance(name, str) and name in DENIED_ATTRIBUTES:
        raise AttributeError(f'"{name}" is not available in functions')
    return safer_getattr(obj, name, raise_, getattr)


_MISSING = object()


def user_getattr(obj, name, default=_MISSING):
    """The getattr() builtin the user sees: the same guard as attribute syntax."""
    if default is _MISSING:
        return guarded_getattr(obj, name, getattr=getattr)
    try:
        return guarded_getattr(obj, name, getattr=getattr)
    except AttributeError:
        return default


def user_hasattr(obj, name) -> bool:
    try:
        guarded_getattr(obj, name, getattr=getattr)
    except AttributeError:
        return False
    return True


INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "@=": operator.imatmul,
}


def inplacevar(op, target, value):
    return INPLACE[op](target, value)


def apply(func, *args, **kwargs):
    return func(*args, **kwargs)


def getitem(obj, index):
    return obj[index]


class LogPrinter:
    """print() in user code writes to ctx.log, not to the pipe."""

    def __init__(self, _getattr_=None) -> None:
        self.lines = []

    def _call_print(self, *objects, sep=" ", end="\n", file=None, flush=False):
        if file is not None:
            raise TypeError("print(file=...) is not available in functions")
        LOG(str(sep).join(_text(o) for o in objects))

    def __call__(self) -> str:
        return ""  # `printed` is empty: print() goes to the run's logs


LOG = lambda text: None  # noqa: E731 - replaced by ctx.log once the job arrives

# Pure builtins besides RestrictedPython's safe_builtins (no introspection, no I/O).
EXTRA_BUILTINS = {
    "dict": dict, "list": list, "set": set, "frozenset": frozenset, "tuple": tuple, "bytes": bytes,
    "min": min, "max": max, "sum": sum, "sorted": sorted, "reversed": reversed, "enumerate": enumerate,
    "zip": zip, "map": map, "filter": filter, "any": any, "all": all, "iter": iter, "next": next,
    "getattr": user_getattr, "hasattr": user_hasattr, "__import__": guarded_import,
}


def restricted_globals(ctx_log) -> dict:
    """The globals user code runs with: safe builtins, guards, helpers and SDK errors."""
    builtins = {**safe_builtins, **EXTRA_BUILTINS, **ERRORS}
    builtins.pop("_getattr_", None)
    return {
        "__builtins__": builtins,
        "__name__": "function",
        "_getattr_": guarded_getattr,
        "_getitem_": getitem,
        "_getiter_": iter,
        "_write_": full_write_guard,
        "_apply_": apply,
        "_inplacevar_": inplacevar,
        "_print_": LogPrinter,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "json_loads": json.loads,
        "json_dumps": json.dumps,
        **HELPERS,
    }


# --- Compiling --------------------------------------------------------------------------------

def compile_user_code(code: str):
    """Compile with RestrictedPython; return (code object or None, list of error lines).

    Shared with the parent, which calls it when a function is saved so that errors come
    back with line numbers before anything runs.
    """
    if not isinstance(code, str) or not code.strip():
        return None, ["The code is empty: define def run(ctx): ..."]
    if len(code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        return None, [f"The code is longer than {MAX_CODE_BYTES} bytes."]
    try:
        result = compile_restricted_exec(code, filename=USER_FILENAME)
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        return None, [f"The code cannot be compiled: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]]
    if result.errors:
        return None, list(result.errors)
    missing = _missing_run(code)
    return (None, [missing]) if missing else (result.code, [])


def _missing_run(code: str) -> str:
    tree = ast.parse(code)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            params = node.args.posonlyargs + node.args.args
            required = len(params) - len(node.args.defaults)
            if (params and required <= 1) or node.args.vararg:
                return ""
            return f"Line {node.lineno}: run must take exactly one argument, ctx: def run(ctx):"
    return "The code must define def run(ctx): at the top level."


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
    global LOG
    code_obj, errors = compile_user_code(job["code"])
    if code_obj is None:
        return {"t": "done", "ok": False, "error": {"type": "SyntaxError", "message": "; ".join(errors)[:MAX_ERROR_CHARS],
                                                     "traceback": []}}
    ctx = Ctx(pipe, job.get("env") or {}, job.get("input"))
    LOG = ctx.log
    namespace = restricted_globals(ctx.log)
    try:
        exec(code_obj, namespace)
        value = namespace["run"](ctx)
    except BaseException as exc:  # noqa: B036 - user code may raise anything, SystemExit included
        return failure(exc, job["code"])
    return {"t": "done", "ok": True, "value": to_json(value, job.get("max_result_bytes", 65536))}


def to_json(value, max_bytes: int):
    """The return value as JSON; other objects as their repr; too large becomes a marked preview."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        value = _text(value)
        encoded = json.dumps(value)
    if len(encoded) <= max_bytes:
        return value
    return {"truncated": True, "bytes": len(encoded), "preview": encoded[:max_bytes] + "…[truncated]"}


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
