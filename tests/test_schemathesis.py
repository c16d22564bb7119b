"""Schemathesis fuzzes the real web process over /api/schema/ with every check.

The web process (gunicorn, as `manage.py runall` starts it) talks to a fake WAHA on
127.0.0.1, so channel operations get WAHA's real answers instead of a 502 for an unreachable
WAHA. A channel, chrono, function, run and message are seeded and their ids given to the
operations that name one, so the fuzzer reaches the views' logic rather than only 404s.

Bounded: SCHEMATHESIS_MAX_EXAMPLES (3) examples per operation and phase, 2 workers, a fixed
seed (SCHEMATHESIS_SEED) so a failure replays the same way. About a minute on 2 cores.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token

from automations.models import Chrono, ChronoRun
from chronoflow import processes
from functions.models import UserFunction
from tests.localserver import closed_port
from tests.processes import Process, process_env
from tests.reliability.faults import _wait_for_port
from tests.whatsapp.fake_waha import API_KEY, FakeWahaServer
from whatsapp.models import Channel, Message

pytestmark = pytest.mark.schemathesis

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261202")
# Kept after the run (every request and answer, as ND-JSON), for a failure to be read later.
REPORT_DIR = settings.DATA_DIR / "schemathesis-report"


@pytest.fixture
def fake_waha():
    with FakeWahaServer() as server:
        yield server


@pytest.fixture
def web(transactional_db, tmp_path, fake_waha):
    port = closed_port()
    env = {**process_env(), "DATA_DIR": str(tmp_path / "web"), "WAHA_BASE_URL": fake_waha.url,
           "WAHA_API_KEY": API_KEY, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           # The fuzzer sends ~100 requests a second: the default budgets would answer most with 429.
           "API_THROTTLE_USER": "1000000/minute", "WEBHOOK_THROTTLE": "1000000/minute"}
    env.pop("REDIS_URL", None)  # its own filesystem broker: triggered runs must not reach other tests' queues
    server = Process("web", processes.web_command("127.0.0.1", port), tmp_path, env)
    server.port = port
    _wait_for_port(port, timeout=30)
    yield server
    server.kill()


def seed(fake_waha) -> dict:
    """One row of each kind the API addresses by id; returns the ids by path prefix."""
    fake_waha.fake.add_session("front", status="SCAN_QR_CODE")
    channel = Channel.objects.create(name="Front desk", session_name="front", status=Channel.Status.SCAN_QR_CODE)
    function = UserFunction.objects.create(name="echo", code="def run(ctx):\n    return ctx.input\n")
    chrono = Chrono.objects.create(name="Hook", schedule="manual", url="https://example.org/hook")
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual")
    message = Message.objects.create(channel=channel, direction="out", chat_id="5511999999999@c.us", text="oi")
    return {"channels": channel.pk, "functions": function.pk, "chronos": chrono.pk, "runs": run.pk,
            "messages": message.pk, "session": channel.session_name}


def config(ids: dict) -> str:
    """schemathesis.toml: every check, the seeded ids, and where a check cannot judge an answer."""
    sections = [f"""
# Every check (each is on unless disabled), and no answer slower than 10 s.
checks.enabled = true
checks.max_response_time = 10.0

# A health probe answers 503 by design (documented) when what it probes is down: the fuzzer
# stops and logs out the seeded channel, so /health/whatsapp says so.
[[operations]]
include-path-regex = "^/health"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", 503]

# The seeded rows' ids (DELETE excluded, so the rows survive until the other operations ran).
"""]
    sections += [f"""
[[operations]]
include-path-regex = "^/api/{prefix}/\\\\{{id\\\\}}/"
exclude-method = "DELETE"
parameters = {{ "path.id" = {pk} }}
""" for prefix, pk in ids.items() if prefix != "session"]
    sections.append(f"""
[[operations]]
include-path-regex = "^/waha/sessions/\\\\{{session\\\\}}"
exclude-method = "DELETE"
parameters = {{ "path.session" = "{ids['session']}" }}

# "Schema-valid" is not valid here for reasons a JSON schema cannot say: a schedule is text the
# schedule parser must read ("0" is not one), code must compile under RestrictedPython, a
# channel / function id must name an existing row (the fuzzer invents them), and a session
# name taken by an earlier test case is taken. Those bodies are refused with a 400 naming the
# field, which is right; every other check (no 5xx, documented statuses, bodies, types) stays.
[[operations]]
include-path-regex = "^/api/(chronos|functions|channels)/(\\\\{{id\\\\}}/)?$"
include-method = ["POST", "PUT", "PATCH"]
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/waha/sessions"
include-method = "POST"
checks.positive_data_acceptance.enabled = false

# Time: the coverage phase walks every field's edges in three media types (~1,000 requests
# per chrono write, 45 s each). PUT and PATCH go through the same serializer and model
# validation as POST, whose coverage phase stays; the fuzzing phase still tries them.
[[operations]]
include-path-regex = "^/api/(chronos|functions)/\\\\{{id\\\\}}/$"
include-method = ["PUT", "PATCH"]
phases.coverage.enabled = false
""")
    return "\n".join(sections)


def test_schemathesis_finds_no_server_error_nor_any_undocumented_answer(web, fake_waha, tmp_path):
    admin = User.objects.create_superuser("fuzz", password="pw-fuzz-1")
    token = Token.objects.create(user=admin).key
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config(seed(fake_waha)))
    started = time.monotonic()
    result = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(config_file), "run", f"http://127.0.0.1:{web.port}/api/schema/",
         "-H", f"Authorization: Token {token}", "--max-examples", MAX_EXAMPLES,
         "--workers", "2", "--seed", SEED, "--generation-database", "none", "--no-color",
         "--report", "ndjson", "--report-dir", str(REPORT_DIR)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    print(f"schemathesis ran in {elapsed:.0f} s")
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:] + web.log()[-5000:]
