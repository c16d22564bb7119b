"""A real Celery worker runs abusive functions, then keeps running other chronos."""

import pytest

from automations.models import Chrono, ChronoRun
from functions.models import UserFunction
from tests.processes import running, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ABUSIVE = {  # name: (code, timeout_ms, the run's final status)
    "loop": ("def run(ctx):\n    while True:\n        pass\n", 600, "timeout"),
    "memory": ("def run(ctx):\n    x = 'a' * (4 * 1024 ** 3)\n", 600, "failed"),
    "recursion": ("def f():\n    return f()\n\ndef run(ctx):\n    f()\n", 600, "failed"),
    # Time enough for the output cap to stop it first, even on a loaded machine.
    "flood": ("def run(ctx):\n    while True:\n        ctx.log('z' * 8000)\n", 5000, "failed"),
    "escape": ("def run(ctx):\n    return ().__class__.__base__.__subclasses__()\n", 600, "failed"),
}


def function_chrono(name: str, code: str, timeout_ms: int = 600) -> Chrono:
    function = UserFunction.objects.create(name=name, code=code, timeout_ms=timeout_ms, max_memory_mb=64)
    return Chrono.objects.create(name=name, schedule="0 0 1 1 *", timezone="UTC", target_type="FUNCTION",
                                 function=function)


def final_run(chrono: Chrono) -> ChronoRun | None:
    return chrono.runs.filter(status__in=ChronoRun.FINAL).first()


def test_the_worker_survives_abusive_functions_and_runs_the_next_chrono(tmp_path):
    abusive = [function_chrono(name, code, timeout_ms) for name, (code, timeout_ms, _) in ABUSIVE.items()]
    healthy = function_chrono("healthy", "def run(ctx):\n    return 'still here'\n")
    with running("worker", log_dir=tmp_path) as procs:
        for chrono in abusive:
            chrono.trigger()
        runs = wait_until(lambda: all(final_run(c) for c in abusive) and [final_run(c) for c in abusive],
                          timeout=90, message="the abusive runs to end")
        healthy.trigger()
        ok = wait_until(lambda: final_run(healthy), timeout=30, message="the healthy run")
        assert procs["worker"].popen.poll() is None
    assert [r.status for r in runs] == [status for _, _, status in ABUSIVE.values()]
    assert ok.status == "success" and ok.result["return"] == "still here"
