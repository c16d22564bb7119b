"""Point 3: the database unavailable for a while. The worker and the web process reach the
database through something the test can break for real: a TCP relay to PostgreSQL that
it cuts, or (SQLite) a directory symlink that it removes. The test itself keeps a direct
connection, as an operator's shell would."""

from pathlib import Path

import pytest
from django.db import connection

from tests import processes
from tests.processes import running, wait_until
from tests.reliability.conftest import FAST, final_run
from tests.reliability.faults import SqliteCut, TcpProxy, WebServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def breakable_database(tmp_path):
    """(DATABASE_URL for the processes, the fault with cut() / restore())."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        fault = SqliteCut(Path(db["NAME"]), tmp_path)
        yield f"sqlite:///{fault.path}", fault
        return
    with TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)) as fault:
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        yield processes.test_database_url().replace(f"@{host}/", f"@127.0.0.1:{fault.port}/"), fault


def test_a_run_triggered_while_the_database_is_down_runs_once_it_is_back_and_health_says_so_meanwhile(
        http_chrono, local_server, tmp_path, breakable_database):
    database_url, fault = breakable_database
    local_server.reply("/hook", status=200, body="ok")
    chrono = http_chrono(local_server.url("/hook"))
    env = {**FAST, "DATABASE_URL": database_url}

    with running("worker", log_dir=tmp_path, **env) as procs:
        web = WebServer(tmp_path, **env)
        try:
            wait_until(lambda: web.get("/health") == 200, message="/health 200 before the outage")
            fault.cut()
            wait_until(lambda: web.get("/health") == 503, message="/health 503 during the outage")
            chrono.trigger()  # the message reaches the worker; the database does not
            wait_until(lambda: "database unavailable" in procs["worker"].log(), message="the worker to hit the outage")
            assert final_run(chrono) is None and not local_server.requests_to("/hook")
            fault.restore()
            wait_until(lambda: web.get("/health") == 200, message="/health 200 after the outage")
            run = wait_until(lambda: final_run(chrono), timeout=60, message="the run to end")
        finally:
            web.kill()

    assert (run.status, run.attempt, run.http_status) == ("success", 1, 200)
    assert len(local_server.requests_to("/hook")) == 1
