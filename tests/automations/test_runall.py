"""`make run`'s last step: web, worker and beat start together and stop together."""

import signal
import subprocess
import sys

import pytest
import requests

from tests.localserver import closed_port
from tests.processes import process_env, purge_broker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def health(port: int) -> int | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code
    except requests.RequestException:
        return None


def test_runall_serves_and_ctrl_c_stops_web_worker_and_beat(tmp_path):
    purge_broker()
    port = closed_port()
    log = (tmp_path / "runall.log").open("w")
    proc = subprocess.Popen([sys.executable, "manage.py", "runall", "--port", str(port)],
                            env=process_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: health(port) == 200, timeout=40, message="the web process to answer /health")
        output = tmp_path / "runall.log"
        wait_until(lambda: "ChronoFlow is up" in output.read_text(), timeout=10, message="the start-up banner")
        text = output.read_text()
        # The URL and the new admin's password come after the processes' own banners, not buried under them.
        assert text.index("ChronoFlow is up") > max(text.index("celery@"), text.index("Booting worker"))
        assert text.index("Created admin user 'admin' with password:") > text.index("ChronoFlow is up")
        children = children_of(proc.pid)
        assert len(children) == 3
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        # runall waited for each child, so none may be left running (or as a zombie for long).
        wait_until(lambda: not [pid for pid in children if alive(pid)], timeout=5, message="no child left")
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
