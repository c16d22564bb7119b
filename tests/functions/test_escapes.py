"""Escape and abuse attempts against the sandbox, each judged by a canary, not by error text.

Every test here also uses `worker_survives`: afterwards this process (the worker) still
runs a normal function, and no sandbox process outlived its run.
"""

import json
import socket
import time
from types import SimpleNamespace

import pytest

from functions import netpolicy
from functions.models import UserFunction
from tests.functions.conftest import CANARY_ENV
from tests.localserver import LocalServer

pytestmark = pytest.mark.usefixtures("worker_survives")


# --- Files, imports, the worker's environment and settings --------------------------------

READ_SECRETS = {
    "open_builtin": "def run(ctx):\n    return open(PATH).read()\n",
    "import_os_environ": "import os\ndef run(ctx):\n    return os.environ[NAME]\n",
    "from_os_import": "from os import environ\ndef run(ctx):\n    return environ[NAME]\n",
    "import_inside_run": "def run(ctx):\n    import subprocess\n    return subprocess.check_output(['cat', PATH])\n",
    "dunder_import": "def run(ctx):\n    return __import__('os').environ[NAME]\n",
    "import_via_getattr_builtins": "def run(ctx):\n    b = getattr(ctx, '__builtins__')\n    return b['open'](PATH).read()\n",
    "eval_and_exec": "def run(ctx):\n    return eval(\"open(PATH).read()\")\n",
    "django_settings": "from django.conf import settings\ndef run(ctx):\n    return settings.SECRET_KEY\n",
    "sys_modules": "import sys\ndef run(ctx):\n    return sys.modules['django.conf'].settings.SECRET_KEY\n",
    "globals_builtin": "def run(ctx):\n    return str(globals())\n",
    "file_url_through_http": "def run(ctx):\n    return ctx.http.get('file://' + PATH).text\n",
    "io_open_through_helper_module": "import json\ndef run(ctx):\n    return json.codecs.open(PATH).read()\n",
}


@pytest.mark.parametrize("attack", sorted(READ_SECRETS))
def test_user_code_cannot_read_the_worker_secrets(attack, run_code, canaries):
    code = READ_SECRETS[attack].replace("PATH", repr(str(canaries.file_path))).replace("NAME", repr(CANARY_ENV))
    report = run_code(code)
    canaries.assert_not_leaked(report)
    assert not report.ok


def test_ctx_env_holds_only_configured_values_never_the_process_environment(run_code, canaries):
    report = run_code("def run(ctx):\n    return dict(ctx.env)\n", env={"region": "br"})
    canaries.assert_not_leaked(report)
    assert report.value == {"region": "br"}


# --- Class-hierarchy, frame and format-string walks ---------------------------------------

WALKS = {
    "subclasses_literal": (
        "def run(ctx):\n"
        "    for c in ().__class__.__base__.__subclasses__():\n"
        "        if c.__name__ == '_wrap_close':\n"
        "            return c.__init__.__globals__['environ'][NAME]\n"
    ),
    "subclasses_through_getattr_strings": (
        "def run(ctx):\n"
        "    base = getattr(getattr((), '__cl' + 'ass__'), '__ba' + 'se__')\n"
        "    for c in getattr(base, '__subcl' + 'asses__')():\n"
        "        g = getattr(getattr(c, '__in' + 'it__'), '__glo' + 'bals__', {})\n"
        "        if 'environ' in g:\n"
        "            return g['environ'][NAME]\n"
    ),
    "mro_of_str": (
        "def run(ctx):\n"
        "    obj = str.mro()[-1]\n"
        "    return [getattr(obj, '__subclasses__')()]\n"
    ),
    "generator_frame": (
        "def run(ctx):\n"
        "    g = (i for i in [1])\n"
        "    return g.gi_frame.f_back.f_globals\n"
    ),
    "generator_frame_by_name": (
        "def run(ctx):\n"
        "    g = (i for i in [1])\n"
        "    frame = getattr(g, 'gi_' + 'frame')\n"
        "    return str(getattr(getattr(frame, 'f_' + 'back'), 'f_' + 'globals'))\n"
    ),
    "traceback_frame": (
        "def run(ctx):\n"
        "    try:\n"
        "        1 / 0\n"
        "    except Exception as e:\n"
        "        tb = getattr(e, '__trace' + 'back__')\n"
        "        return str(getattr(getattr(tb, 'tb_' + 'frame'), 'f_' + 'globals'))\n"
    ),
    "str_format_field_names": "def run(ctx):\n    return '{0.__init__.__globals__}'.format(ctx)\n",
    "str_format_on_the_type": "def run(ctx):\n    return str.format('{0.__init__.__globals__}', ctx.http)\n",
    "format_map": "def run(ctx):\n    return '{x.__init__.__globals__}'.format_map({'x': ctx})\n",
    "fstring_dunder": "def run(ctx):\n    return f'{ctx.__init__.__globals__}'\n",
    "dunder_dict_of_ctx": "def run(ctx):\n    return getattr(ctx.http, '__dict__', None) or getattr(ctx, '__slots__')\n",
    "bound_method_self": "def run(ctx):\n    return str(getattr(ctx.http.get, '__self__'))\n",
    "except_star": "def run(ctx):\n    try:\n        pass\n    except* Exception:\n        pass\n",
}


@pytest.mark.parametrize("attack", sorted(WALKS))
def test_introspection_walks_reach_nothing(attack, run_code, canaries):
    report = run_code(WALKS[attack].replace("NAME", repr(CANARY_ENV)))
    canaries.assert_not_leaked(report)
    assert not report.ok
    assert "f_globals" not in json.dumps(report.value)


# --- ctx internals and limits ---------------------------------------------------------------

LIFT_LIMITS = (
    "def run(ctx):\n"
    "    for attempt in ("
    "lambda: setattr(ctx, 'http', None), "
    "lambda: setattr(ctx.http, 'max_http', 1000), "
    "lambda: getattr(ctx, '_pipe'), "
    "lambda: setattr(ctx, 'state', {})):\n"
    "        try:\n"
    "            attempt()\n"
    "        except Exception:\n"
    "            pass\n"
    "    done = 0\n"
    "    for i in range(20):\n"
    "        try:\n"
    "            ctx.http.get(URL)\n"
    "            done += 1\n"
    "        except Exception:\n"
    "            pass\n"
    "    return done\n"
)


def test_changing_ctx_internals_does_not_lift_max_http(run_code, allowed_host):
    allowed_host.reply("/ping", body={"pong": True})
    report = run_code(LIFT_LIMITS.replace("URL", repr(allowed_host.url("/ping"))), max_http=3)
    assert len(allowed_host.requests) == 3
    assert not report.ok and "max_http" in report.error_text


def test_a_loop_over_max_http_reaches_the_host_max_http_times(run_code, allowed_host):
    allowed_host.reply("/ping", body={})
    code = f"def run(ctx):\n    for i in range(50):\n        ctx.http.get({allowed_host.url('/ping')!r})\n"
    report = run_code(code, max_http=4)
    assert len(allowed_host.requests) == 4
    assert report.http_calls == 4 and not report.ok


def test_redirects_do_not_stretch_max_http(run_code, allowed_host):
    # One ctx.http.get down a chain of five redirects: each hop is a request, and max_http=1 allows one.
    for step in range(5):
        allowed_host.reply(f"/hop{step}", redirect=f"/hop{step + 1}")
    allowed_host.reply("/hop5", body="end")
    report = run_code(f"def run(ctx):\n    return ctx.http.get({allowed_host.url('/hop0')!r}).text\n", max_http=1)
    assert [r.path for r in allowed_host.requests] == ["/hop0"]
    assert not report.ok and "max_http" in report.error_text and report.http_calls == 1


def test_a_trickling_host_cannot_hold_the_worker_past_the_functions_timeout(run_code, allowed_host):
    # One byte every 0.3 s never trips a per-read timeout; the whole body would take 18 s.
    allowed_host.reply("/drip", body="x" * 60, trickle=0.3)
    started = time.monotonic()
    report = run_code(f"def run(ctx):\n    return ctx.http.get({allowed_host.url('/drip')!r}).text\n", timeout_ms=1500)
    assert not report.ok
    assert time.monotonic() - started < 1.5 + 2


def test_the_rate_limit_spreads_requests_over_seconds(run_code, allowed_host, settings, monkeypatch):
    settings.FUNCTION_RATE_LIMIT_PER_SECOND = 2
    arrivals = []
    original = allowed_host._record_and_choose
    monkeypatch.setattr(allowed_host, "_record_and_choose", lambda r: (arrivals.append(time.monotonic()), original(r))[1])
    allowed_host.reply("/ping", body={})
    code = f"def run(ctx):\n    for i in range(5):\n        ctx.http.get({allowed_host.url('/ping')!r})\n"
    report = run_code(code, max_http=5, timeout_ms=5000)
    assert report.ok and len(arrivals) == 5
    # Any three consecutive requests span at least a second (allowing for scheduling jitter).
    assert all(arrivals[i + 2] - arrivals[i] >= 0.95 for i in range(len(arrivals) - 2))


def test_a_catch_all_handler_does_not_hide_a_refused_call(run_code, listener):
    code = (f"def run(ctx):\n    try:\n        ctx.http.get('http://127.0.0.1:{listener.port}/')\n"
            "    except Exception:\n        pass\n    return 'fine'\n")
    report = run_code(code)
    assert listener.connections == []
    assert not report.ok and report.refused


# --- CPU, memory, recursion, output ----------------------------------------------------------

def test_an_infinite_loop_is_killed_at_timeout_ms(run_code):
    started = time.monotonic()
    report = run_code("def run(ctx):\n    while True:\n        pass\n", timeout_ms=300)
    assert report.limit == "timeout" and "300 ms" in report.error_text
    assert time.monotonic() - started < 3


def test_sleeping_counts_toward_the_timeout(run_code):
    report = run_code("def run(ctx):\n    ctx.sleep(30)\n", timeout_ms=300)
    assert report.limit == "timeout" and report.duration_ms < 2000


def test_a_huge_integer_computation_is_stopped(run_code):
    report = run_code("def run(ctx):\n    x = 7 ** (10 ** 9)\n    return 1\n", timeout_ms=500)
    assert not report.ok and report.limit in ("timeout", "memory")


def test_a_memory_bomb_is_stopped_by_max_memory_mb(run_code):
    report = run_code("def run(ctx):\n    x = 'a' * (2 * 1024 ** 3)\n    return len(x)\n", max_memory_mb=64)
    assert report.limit == "memory" and "64 MB" in report.error_text


def test_a_growing_list_is_stopped_by_max_memory_mb(run_code):
    code = "def run(ctx):\n    chunks = []\n    while True:\n        chunks.append('x' * 1000000)\n"
    report = run_code(code, max_memory_mb=64, timeout_ms=5000)
    assert report.limit == "memory"


def test_deep_recursion_fails_with_the_users_lines_only(run_code):
    report = run_code("def f(n):\n    return f(n + 1)\n\ndef run(ctx):\n    return f(0)\n")
    assert report.limit == "recursion"
    recorded = json.dumps(report.as_result())
    assert "line 2, in f: return f(n + 1)" in recorded
    assert "runner.py" not in recorded and "/work/" not in recorded and "site-packages" not in recorded


def test_a_log_flood_is_truncated_with_a_marker(run_code, settings):
    report = run_code("def run(ctx):\n    for i in range(100000):\n        ctx.log('x' * 5000)\n", timeout_ms=5000)
    logs = json.dumps(report.logs)
    assert len(logs) < settings.FUNCTION_MAX_LOG_BYTES * 1.1
    assert "logs truncated" in report.logs[-1]


def test_a_print_flood_is_truncated_with_a_marker(run_code, settings):
    report = run_code("def run(ctx):\n    while True:\n        print('y' * 5000)\n", timeout_ms=1000)
    assert len(json.dumps(report.logs)) < settings.FUNCTION_MAX_LOG_BYTES * 1.1
    assert "logs truncated" in report.logs[-1]


def test_a_huge_return_value_is_truncated_with_a_marker(run_code, settings):
    report = run_code("def run(ctx):\n    return 'z' * 5000000\n")
    assert report.ok and report.value["truncated"] is True
    assert len(json.dumps(report.as_result())) < settings.FUNCTION_MAX_RESULT_BYTES * 1.2


@pytest.mark.parametrize("depth", [150, 950, 100_000])
def test_a_deeply_nested_return_value_ends_the_run_with_a_clear_error(depth, run_code):
    code = f"def run(ctx):\n    x = []\n    for i in range({depth}):\n        x = [x]\n    return x\n"
    report = run_code(code)
    assert not report.ok and report.error["type"] == "ResultError"
    assert "nested more than 100 levels" in report.error_text


# --- SSRF through ctx.http ---------------------------------------------------------------------

SSRF_URLS = {
    "loopback": "http://127.0.0.1:{port}/",
    "localhost_name": "http://localhost:{port}/",
    "decimal_ip": "http://2130706433:{port}/",
    "hex_ip": "http://0x7f000001:{port}/",
    "short_ip": "http://127.1:{port}/",
    "octal_ip": "http://0177.0.0.1:{port}/",
    "ipv4_mapped_ipv6": "http://[::ffff:127.0.0.1]:{port}/",
    "ipv6_loopback": "http://[::1]:{port}/",
    "userinfo_allowed_at_evil": "http://127.0.0.1:{allowed}@127.0.0.1:{port}/",
    "backslash_confusion": "http://127.0.0.1:{port}\\@127.0.0.1:{allowed}/",
    "unspecified_address": "http://0.0.0.0:{port}/",
    "uppercase_scheme_other_port": "HTTP://127.0.0.1:{port}/",
}


@pytest.mark.parametrize("name", sorted(SSRF_URLS))
def test_ssrf_urls_never_reach_the_listener(name, run_code, listener, allowed_host):
    url = SSRF_URLS[name].format(port=listener.port, allowed=allowed_host.port)
    report = run_code(f"def run(ctx):\n    return ctx.http.get({url!r}).text\n")
    assert listener.connections == []
    assert allowed_host.requests == []
    assert not report.ok


def test_a_redirect_from_the_allowed_host_to_loopback_is_not_followed(run_code, listener, allowed_host):
    allowed_host.reply("/go", redirect=f"http://127.0.0.1:{listener.port}/admin")
    report = run_code(f"def run(ctx):\n    return ctx.http.get({allowed_host.url('/go')!r}).status_code\n")
    assert listener.connections == []
    assert len(allowed_host.requests) == 1
    assert not report.ok


@pytest.fixture
def canary_server():
    """An HTTP server on 127.0.0.1 that no request of these tests may reach."""
    with LocalServer() as server:
        server.reply("/", body="canary")
        yield server


@pytest.fixture
def dns(monkeypatch):
    """Fake names for these tests: `dns.check` is what the policy's lookup sees, `dns.connect` what the socket's sees."""
    fake = SimpleNamespace(check={}, connect={})
    real_resolve, real_getaddrinfo = netpolicy.resolve_host, socket.getaddrinfo

    def resolve(host, port):
        return fake.check[host] if host in fake.check else real_resolve(host, port)

    def getaddrinfo(host, port, *args, **kwargs):
        return real_getaddrinfo(fake.connect.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(netpolicy, "resolve_host", resolve)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


def test_a_redirect_to_an_allowlisted_name_that_resolves_to_loopback_is_refused_at_the_hop(
        run_code, allowed_host, canary_server, dns, settings):
    settings.FUNCTION_HTTP_ALLOWLIST = [*settings.FUNCTION_HTTP_ALLOWLIST, f"inner.test:{canary_server.port}"]
    dns.check["inner.test"] = ["127.0.0.1"]
    dns.connect["inner.test"] = "127.0.0.1"
    allowed_host.reply("/go", redirect=f"http://inner.test:{canary_server.port}/")
    report = run_code(f"def run(ctx):\n    return ctx.http.get({allowed_host.url('/go')!r}).text\n")
    assert canary_server.requests == []
    assert len(allowed_host.requests) == 1
    assert not report.ok and report.refused and "non-public" in report.error_text


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused_on_the_socket(
        run_code, canary_server, dns, settings):
    """DNS rebinding: the policy's lookup sees a public address, the connection gets 127.0.0.1.

    The TCP connection is made and dropped at once: no byte of the request is sent.
    """
    settings.FUNCTION_HTTP_ALLOWLIST = [f"rebind.test:{canary_server.port}"]
    dns.check["rebind.test"] = ["93.184.216.34"]
    dns.connect["rebind.test"] = "127.0.0.1"
    code = (f"def run(ctx):\n    try:\n        return ctx.http.get('http://rebind.test:{canary_server.port}/').text\n"
            "    except Exception:\n        return 'caught'\n")
    report = run_code(code)
    assert canary_server.requests == []
    assert not report.ok and report.refused and "connected to 127.0.0.1" in report.error_text


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.5", "192.168.1.1", "127.0.0.1", "::1", "fd00::1",
                                     "100.64.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1"])
def test_an_allowlisted_name_resolving_to_a_non_public_address_is_refused(address, run_code, settings, monkeypatch):
    settings.FUNCTION_HTTP_ALLOWLIST = ["api.partner.test"]
    monkeypatch.setattr(netpolicy, "resolve_host", lambda host, port: [address])
    sent = []  # every connection attempt, none of which may happen

    def connect(address, *args, **kwargs):
        sent.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr("urllib3.util.connection.create_connection", connect)
    report = run_code("def run(ctx):\n    return ctx.http.get('http://api.partner.test/meta-data/').text\n")
    assert sent == []
    assert not report.ok and "non-public" in report.error_text


# --- Messages and state -------------------------------------------------------------------------

def test_state_that_is_not_json_is_not_persisted(run_code, make_function):
    function = make_function("def run(ctx):\n    ctx.state.set('k', ctx)\n", state={"k": 1})
    report = function.run_once()
    function.refresh_from_db()
    assert function.state == {"k": 1} and not report.ok


def test_nan_in_state_is_not_persisted(make_function):
    function = make_function("def run(ctx):\n    ctx.state.set('k', float('nan'))\n", state={"k": 1})
    report = function.run_once()
    function.refresh_from_db()
    assert function.state == {"k": 1} and not report.ok


def test_oversized_state_is_not_persisted_even_when_the_error_is_caught(make_function, settings):
    code = ("def run(ctx):\n    ctx.state.set('small', 1)\n    try:\n        ctx.state.set('big', 'x' * 200000)\n"
            "    except Exception:\n        pass\n    return 'ok'\n")
    function = make_function(code, state={"kept": True})
    report = function.run_once()
    function.refresh_from_db()
    assert function.state == {"kept": True}
    assert not report.ok and "FUNCTION_MAX_STATE_BYTES" in report.error_text


def test_state_of_a_failed_run_is_not_persisted(make_function):
    function = make_function("def run(ctx):\n    ctx.state.set('count', 99)\n    raise ValueError('boom')\n",
                             state={"count": 1})
    function.run_once()
    function.refresh_from_db()
    assert function.state == {"count": 1}


def test_writing_to_ctx_env_changes_nothing_stored(make_function):
    function = make_function("def run(ctx):\n    ctx.env['token'] = 'stolen'\n", env={"token": "real"})
    function.run_once()
    function.refresh_from_db()
    assert function.env == {"token": "real"}
    assert UserFunction.objects.get(pk=function.pk).env == {"token": "real"}
