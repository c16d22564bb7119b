"""Start ChronoFlow's real Celery worker and beat against the test database.

The command lines are those of `manage.py runall` (chronoflow/processes.py). The test
database must be committed data (`transactional_db`), since the processes have their own
connections.
"""

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from chronoflow import processes
from chronoflow.celery import app


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_broker() -> None:
    """Drop messages left by an earlier test, so each test sees only its own sends."""
    if settings.REDIS_URL:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
        return
    queue = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    shutil.rmtree(queue, ignore_errors=True)
    queue.mkdir(parents=True, exist_ok=True)


class Process:
    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.popen = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                      cwd=settings.BASE_DIR, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not log {text!r} in {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def kill(self, sig: int = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait()
        self._log.close()


def process_env(**extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DATA_DIR": str(settings.DATA_DIR), **extra}
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


@contextmanager
def running(*names: str, log_dir: Path, **env_extra: str):
    """Run 'worker' and/or 'beat' for the duration of the block; logs land in log_dir."""
    purge_broker()
    commands = {"worker": processes.worker_command(concurrency=2), "beat": processes.beat_command()}
    started: list[Process] = []
    try:
        for name in names:
            started.append(Process(name, commands[name], log_dir, process_env(**env_extra)))
        for proc in started:
            proc.wait_for_log("ready." if proc.name == "worker" else "beat: Starting...")
        yield {proc.name: proc for proc in started}
    finally:
        for proc in started:
            proc.kill()


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    """Poll an observable condition (a row, a request) instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
