"""The real web process serves other users while integrators wait on ``?wait=1``."""

import statistics
import threading
import time

import pytest
import requests
from django.contrib.auth.models import User

from automations.models import Chrono, IntegratorHook
from chronoflow import processes
from tests.localserver import closed_port
from tests.processes import Process, process_env
from tests.reliability.faults import _wait_for_port

WAIT_S = 4


@pytest.fixture
def web(transactional_db, tmp_path):
    # Its own filesystem broker: the hooks' runs must not land in the queue other tests count.
    env = {**process_env(), "DATA_DIR": str(tmp_path / "web"), "HOOK_WAIT_SECONDS": str(WAIT_S)}
    env.pop("REDIS_URL", None)
    port = closed_port()
    server = Process("web", processes.web_command("127.0.0.1", port), tmp_path, env)
    server.port = port
    _wait_for_port(port, timeout=30)
    yield server
    server.kill()


def admin_session(port: int) -> requests.Session:
    User.objects.create_superuser("boss", password="pw-boss-1")
    session = requests.Session()
    login = f"http://127.0.0.1:{port}/admin/login/"
    session.get(login, timeout=10)
    response = session.post(login, data={"username": "boss", "password": "pw-boss-1", "next": "/admin/",
                                         "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=10)
    assert response.url.endswith("/admin/") and 'id="chrono-dashboard"' in response.text
    return session


def timed_get(session: requests.Session, url: str) -> float:
    started = time.monotonic()
    response = session.get(url, timeout=30)
    assert response.status_code == 200
    return time.monotonic() - started


def test_three_hooks_waiting_on_wait_1_do_not_hold_up_the_admin_index(web):
    # No worker runs: each hook's run stays pending, so each ?wait=1 holds its request for HOOK_WAIT_SECONDS.
    hook = IntegratorHook.rotate_token(Chrono.objects.create(name="slow", schedule="manual", url="http://127.0.0.1:9/"))
    session = admin_session(web.port)
    index = f"http://127.0.0.1:{web.port}/admin/"
    normal = statistics.median(timed_get(session, index) for _ in range(3))

    answers: list[float] = []

    def wait_on_hook() -> None:
        started = time.monotonic()
        response = requests.post(f"http://127.0.0.1:{web.port}/hooks/{hook.token}?wait=1", json={}, timeout=30)
        assert response.status_code in (200, 202)
        answers.append(time.monotonic() - started)

    waiting = [threading.Thread(target=wait_on_hook) for _ in range(3)]
    for thread in waiting:
        thread.start()
    time.sleep(1)  # all three are inside their wait now (they answer after WAIT_S)
    during = [timed_get(session, index) for _ in range(3)]
    for thread in waiting:
        thread.join()

    assert len(answers) == 3 and min(answers) >= WAIT_S - 0.5  # they really waited, all at once
    assert max(during) < max(3 * normal, 0.5), (normal, during)
