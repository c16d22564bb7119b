"""What user code may touch: RestrictedPython's compile, guards, builtins and helpers.

Shared by the sandbox child (functions/runner.py, which loads this file beside it) and
the worker, which compiles code when a function is saved so that errors come back with
line numbers before anything runs. Imports only the standard library and RestrictedPython.

User code gets RestrictedPython's ``safe_builtins`` plus a few pure ones (list, dict, min,
max, sorted, ...), its documented guards (``full_write_guard``, guarded unpacking, a
getattr that refuses names starting with "_", the inspect attributes of frames,
generators and tracebacks, and the ``str.format`` family), the SDK's error classes, and
curated helpers standing in for json, math, re and datetime: plain objects holding
functions and classes, never module objects. ``import`` gives those helpers and nothing
else.
"""

import ast
import datetime as _datetime
import json
import math
import operator
import re
import sys

import _strptime  # noqa: F401 - datetime.strptime imports it lazily; in the child, later no file can be opened
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
MAX_ERROR_CHARS = 2_000

# Attribute names refused on any object, beyond RestrictedPython's own list: the
# str.format family reaches attributes through field names ("{0.__class__}").
DENIED_ATTRIBUTES = frozenset({"format", "format_map", "mro"}) | INSPECT_ATTRIBUTES


def as_text(value) -> str:
    return value if isinstance(value, str) else repr(value)


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


def printer_for(log):
    """The `_print_` RestrictedPython calls for print(): lines go to `log` (ctx.log)."""

    class LogPrinter:
        def __init__(self, _getattr_=None) -> None:
            pass

        def _call_print(self, *objects, sep=" ", end="\n", file=None, flush=False):
            if file is not None:
                raise TypeError("print(file=...) is not available in functions")
            log(str(sep).join(as_text(o) for o in objects))

        def __call__(self) -> str:
            return ""  # `printed` is empty: print() goes to the run's logs

    return LogPrinter


# Pure builtins besides RestrictedPython's safe_builtins (no introspection, no I/O).
EXTRA_BUILTINS = {
    "dict": dict, "list": list, "set": set, "frozenset": frozenset, "tuple": tuple, "bytes": bytes,
    "min": min, "max": max, "sum": sum, "sorted": sorted, "reversed": reversed, "enumerate": enumerate,
    "zip": zip, "map": map, "filter": filter, "any": any, "all": all, "iter": iter, "next": next,
    "getattr": user_getattr, "hasattr": user_hasattr, "__import__": guarded_import,
}


def restricted_globals(log) -> dict:
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
        "_print_": printer_for(log),
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
    problems = [_missing_run(code), *_forbidden_imports(code)]
    problems = [p for p in problems if p]
    return (None, problems) if problems else (result.code, [])


def _forbidden_imports(code: str) -> list[str]:
    """guarded_import's policy, applied when the code is saved: every run would fail on these."""
    problems = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
        else:
            continue
        for name in names:
            if name not in HELPERS:
                problems.append(f"Line {node.lineno}: import of {name!r} is not allowed; "
                                f"available: {', '.join(sorted(HELPERS))}")
    return problems


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
