"""Production smoke: web, worker and beat as docker-compose runs them, from a venv built from
requirements.txt alone, against PostgreSQL and Redis.

Run it with that venv's interpreter; it uses nothing beyond the standard library and what
requirements.txt installs. It checks, end to end:
- an HTTP chrono with a one-shot a few seconds ahead: beat fires it, the worker calls a
  receiver on 127.0.0.1, the run ends ``success``;
- a FUNCTION chrono triggered through the API runs in the sandbox and ends ``success``;
- an integrator hook POST answers 202 and its run ends ``success``;
- the admin's static files are served.
A runtime import missing from requirements.txt fails one of these (kombu's Redis transport
needing ``packaging`` made every publish fail, issue 19). Exit status 0 only when all pass.

    python .ci/smoke_production.py --database-url postgres://postgres@127.0.0.1:5432/postgres \
        --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SMOKE_DB = "chronoflow_smoke"
sys.path.insert(0, str(ROOT))
from bench.support import Receiver, free_port, scratch_database  # noqa: E402  (stdlib + requirements.txt only)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server URL; the smoke creates (and drops) its own database there")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="a Redis database the smoke may flush")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chronoflow-smoke-") as tmp:
        smoke = Smoke(Path(tmp), scratch_database(args.database_url, SMOKE_DB), fresh_redis(args.redis_url))
        try:
            smoke.run()
        except SmokeFailed as exc:
            print(f"smoke: FAILED: {exc}", file=sys.stderr)
            smoke.print_logs()
            return 1
        finally:
            smoke.stop()
    print("smoke: production install OK (web, worker, beat on PostgreSQL + Redis)")
    return 0


class SmokeFailed(Exception):
    pass


def fresh_redis(url: str) -> str:
    import redis  # from requirements.txt

    redis.Redis.from_url(url).flushdb()
    return url


class Smoke:
    def __init__(self, tmp: Path, database_url: str, redis_url: str):
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "CELERY"))},
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DATA_DIR": str(tmp / "data"),
            "ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.token = ""
        self.receiver = Receiver(record=True)

    # --- the steps

    def run(self) -> None:
        step("migrate")
        self.manage("migrate", "--noinput")
        self.manage("ensure_admin")
        out = self.manage("drf_create_token", "admin")
        match = re.search(r"token (\w+)", out)
        if not match:
            raise SmokeFailed(f"drf_create_token printed no token: {out!r}")
        self.token = match.group(1)

        step("start web, worker, housekeeping and beat (docker-compose's command lines)")
        self.start("web", BIN / "gunicorn", "chronoflow.wsgi", "-b", f"127.0.0.1:{self.port}", "--workers", "3",
                   "--worker-class", "gthread", "--threads", "8")
        self.start("worker", BIN / "celery", "-A", "chronoflow", "worker", "-l", "info", "-Q", "celery",
                   "--without-gossip", "--without-mingle")
        self.start("housekeeping", BIN / "celery", "-A", "chronoflow", "worker", "-l", "info", "-Q", "housekeeping",
                   "-c", "2", "--without-gossip", "--without-mingle", "-n", "housekeeping@%h")
        self.start("beat", BIN / "celery", "-A", "chronoflow", "beat", "-l", "info",
                   "-S", "automations.beat.scheduler:ChronoScheduler")
        self.wait("web answers /health", lambda: self.get("/health")[0] == 200, timeout=60)
        status, _ = self.get("/static/admin/css/base.css", auth=False)
        if status != 200:
            raise SmokeFailed(f"admin static files answer {status}")

        step("an HTTP chrono fired by beat")
        when = (datetime.now(timezone.utc) + timedelta(seconds=8)).isoformat(timespec="seconds")
        chrono = self.post("/api/chronos/", {
            "name": "smoke http", "schedule": when, "target_type": "HTTP",
            "url": f"{self.receiver.url}/scheduled", "method": "POST", "payload": {"from": "beat"},
        })
        self.wait_run_success(chrono["id"], timeout=90)
        if ("/scheduled", {"from": "beat"}) not in [(r.path, r.body) for r in self.receiver.received]:
            raise SmokeFailed(f"the receiver did not get the scheduled call: {self.receiver.received}")

        step("a FUNCTION chrono triggered through the API (sandbox)")
        function = self.post("/api/functions/", {"name": "smoke", "code": "def run(ctx):\n    return 6 * 7\n"})
        chrono = self.post("/api/chronos/", {"name": "smoke function", "schedule": "manual",
                                             "target_type": "FUNCTION", "function": function["id"]})
        self.post(f"/api/chronos/{chrono['id']}/trigger/", {}, expect=202)
        self.wait_run_success(chrono["id"], timeout=60)

        step("an integrator hook answered 202")
        chrono = self.post("/api/chronos/", {
            "name": "smoke hook", "schedule": "manual", "target_type": "HTTP",
            "url": f"{self.receiver.url}/hooked", "method": "POST",
        })
        hook_token = self.manage("shell", "-c", (
            "from automations.models import IntegratorHook; "
            f"print(IntegratorHook.objects.create(chrono_id={chrono['id']}).token)"
        )).strip().splitlines()[-1]
        status, body = self.request("POST", f"/hooks/{hook_token}", {"order": 7}, auth=False)
        if status != 202:
            raise SmokeFailed(f"hook answered {status}: {body}")
        self.wait_run_success(chrono["id"], timeout=60)

    def wait_run_success(self, chrono_id: int, timeout: float) -> None:
        def done():
            _, runs = self.get(f"/api/chronos/{chrono_id}/runs/")
            finished = [r for r in runs["results"] if r["status"] not in ("pending", "running", "retrying")]
            if finished and finished[0]["status"] != "success":
                raise SmokeFailed(f"chrono {chrono_id}'s run ended {finished[0]['status']}: {finished[0]}")
            return bool(finished)

        self.wait(f"chrono {chrono_id}'s run succeeds", done, timeout)

    # --- processes

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise SmokeFailed(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, name: str, *command) -> None:
        log = open(self.tmp / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen([str(c) for c in command], cwd=ROOT, env=self.env,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.receiver.shutdown()

    def print_logs(self) -> None:
        for name in self.processes:
            text = (self.tmp / f"{name}.log").read_text(errors="replace")
            print(f"--- {name} log (last 40 lines)", file=sys.stderr)
            print("\n".join(text.splitlines()[-40:]), file=sys.stderr)

    def wait(self, what: str, predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise SmokeFailed(f"{name} exited with {process.returncode} while waiting until {what}")
            try:
                if predicate():
                    print(f"smoke:   ok: {what}")
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        raise SmokeFailed(f"timed out after {timeout:.0f} s waiting until {what}")

    # --- HTTP

    def request(self, method: str, path: str, body=None, auth: bool = True):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Token {self.token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw[:200]

    def get(self, path: str, auth: bool = True):
        return self.request("GET", path, auth=auth)

    def post(self, path: str, body: dict, expect: int = 201) -> dict:
        status, answer = self.request("POST", path, body)
        if status != expect:
            raise SmokeFailed(f"POST {path} answered {status} (expected {expect}): {answer}")
        return answer


def step(text: str) -> None:
    print(f"smoke: {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
