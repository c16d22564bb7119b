"""The sandbox process itself: who it runs as, what it holds, how runs end."""

import json
import os
import time
from pathlib import Path

import pytest

from functions import sandbox
from tests.functions.conftest import CANARY_ENV


@pytest.fixture
def waiting_child(settings):
    """A started child that said `ready`: no code yet, every process-wide lock already on."""
    child = sandbox.Child()
    child.wait_ready(time.monotonic() + 10)
    yield child
    child.kill()


def proc(child, name: str) -> str:
    return Path(f"/proc/{child.popen.pid}/{name}").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops privileges only when started as root")
def test_the_child_runs_as_the_unprivileged_sandbox_user(waiting_child):
    uids = next(line for line in proc(waiting_child, "status").splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == ["65534"] * 4


def test_the_child_holds_no_file_descriptors_but_its_pipes(waiting_child):
    assert sorted(os.listdir(f"/proc/{waiting_child.popen.pid}/fd")) == ["0", "1", "2"]


def test_the_child_gets_none_of_the_workers_environment(waiting_child, canaries):
    environ = proc(waiting_child, "environ")
    assert canaries.env_secret not in environ
    assert set(filter(None, environ.split("\0"))) == {"LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin"}


def test_the_child_starts_in_an_empty_directory_it_cannot_write(waiting_child):
    cwd = os.readlink(f"/proc/{waiting_child.popen.pid}/cwd")
    assert os.listdir(cwd) == [] and not os.stat(cwd).st_mode & 0o222


def test_the_child_cannot_open_files_write_files_or_start_processes(waiting_child):
    limits = {line[:26].strip(): line[26:].split()[:2] for line in proc(waiting_child, "limits").splitlines()[1:]}
    assert limits["Max open files"] == ["3", "3"]
    assert limits["Max file size"] == ["0", "0"]
    assert limits["Max processes"] == ["0", "0"]
    assert limits["Max core file size"] == ["0", "0"]


def test_the_child_is_in_its_own_session_so_its_group_can_be_killed(waiting_child):
    assert os.getsid(waiting_child.popen.pid) == waiting_child.popen.pid


def test_the_run_sets_cpu_and_memory_limits_before_user_code(run_code):
    # The limits are only visible from inside; a function asking for more memory than allowed fails.
    report = run_code("def run(ctx):\n    return len(bytes(100 * 1024 * 1024))\n", max_memory_mb=64)
    assert report.limit == "memory"


def test_every_run_gets_a_fresh_process_that_is_gone_afterwards(run_code, monkeypatch):
    used = []
    original = sandbox.Child.kill
    monkeypatch.setattr(sandbox.Child, "kill", lambda child: (used.append(child.popen), original(child)))
    run_code("def run(ctx):\n    return 1\n")
    run_code("def run(ctx):\n    return 2\n")
    assert len({p.pid for p in used}) == 2
    assert all(p.returncode is not None for p in used)


def test_a_pool_child_waits_without_code_and_is_used_once(run_code, settings):
    settings.FUNCTION_POOL_SIZE = 2
    sandbox.POOL.refill()
    assert len(sandbox.POOL) == 2
    run_code("def run(ctx):\n    return 1\n")
    assert len(sandbox.POOL) == 2


def test_the_return_value_logs_and_print_output_are_recorded(run_code):
    report = run_code("def run(ctx):\n    ctx.log('a', 1, {'b': 2})\n    print('printed', 3)\n    return {'ok': True}\n")
    assert report.ok and report.value == {"ok": True}
    assert report.logs == ["a 1 {'b': 2}", "printed 3"]


def test_an_error_records_the_users_traceback_lines_only(run_code):
    report = run_code("def helper(x):\n    return 10 / x\n\ndef run(ctx):\n    return helper(0)\n")
    assert report.error["type"] == "ZeroDivisionError"
    assert report.error["traceback"] == ["line 5, in run: return helper(0)", "line 2, in helper: return 10 / x"]


def test_a_compile_error_in_stored_code_fails_the_run_with_its_line(run_code):
    report = run_code("def run(ctx):\n    return (\n")
    assert not report.ok and "Line 2" in report.error_text


def test_a_value_that_is_not_json_is_returned_as_its_repr(run_code):
    report = run_code("def run(ctx):\n    return {1, 2}\n")
    assert report.ok and report.value == "{1, 2}"


def test_ctx_input_is_the_runs_input(run_code):
    report = run_code("def run(ctx):\n    return ctx.input['who']\n", input={"who": "Ana"})
    assert report.value == "Ana"


def test_curated_helpers_work_without_module_objects(run_code):
    code = ("import json\nimport math\nimport re\nfrom datetime import datetime, timedelta\n\n"
            "def run(ctx):\n"
            "    d = datetime(2026, 1, 1) + timedelta(days=1)\n"
            "    return [json.loads(json_dumps({'a': 1}))['a'], math.sqrt(16), re.findall('[0-9]+', 'a1b22'),\n"
            "            d.isoformat(), datetime.strptime('2026-02-03', '%Y-%m-%d').day, str(json)]\n")
    report = run_code(code)
    assert report.value == [1, 4.0, ["1", "22"], "2026-01-02T00:00:00", 3, "<helpers json>"]


def test_a_missing_attribute_is_an_attribute_error(run_code):
    report = run_code("def run(ctx):\n    return ctx.nothing_here\n")
    assert report.error["type"] == "AttributeError"


def test_the_sandbox_refuses_the_environment_name_even_when_asked_by_name(run_code, canaries):
    report = run_code(f"def run(ctx):\n    return ctx.env.get({CANARY_ENV!r})\n")
    assert report.ok and report.value is None
    canaries.assert_not_leaked(report)


def test_an_oversized_error_report_from_the_child_is_cut_to_size():
    result = sandbox._done({"t": "done", "ok": False, "error": {"type": "X" * 500, "traceback": ["y" * 5000] * 100}})
    assert len(result.error["type"]) == 100 and len(result.error["traceback"]) == 25
    assert all(len(line) == 500 for line in result.error["traceback"])


def test_a_line_from_the_child_that_is_not_a_json_object_ends_the_run():
    with pytest.raises(sandbox._Stop) as stopped:
        sandbox._parse(b"NaN")
    assert stopped.value.result.error["type"] == "SandboxError"
