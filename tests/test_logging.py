"""LOG_FORMAT=json gives one JSON object per line with chrono_id, run_id, channel and event."""

import io
import json
import logging
import logging.config

import pytest

from automations.models import Chrono
from chronoflow.logging import log_context, logging_config
from tests.processes import running, wait_until
from tests.test_settings import start_django


@pytest.fixture
def capture():
    """Configure logging as the settings would, into a buffer; restore Django's afterwards."""
    from django.conf import settings

    def configure(log_format: str) -> io.StringIO:
        config = logging_config(log_format, "INFO")
        config["handlers"]["console"]["stream"] = buffer = io.StringIO()
        logging.config.dictConfig(config)
        return buffer

    yield configure
    logging.config.dictConfig(settings.LOGGING)


def test_json_lines_carry_the_four_context_fields_even_when_unknown(capture):
    buffer = capture("json")
    logging.getLogger("automations.test").info("nothing bound")
    [entry] = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert entry["message"] == "nothing bound" and entry["level"] == "INFO" and entry["logger"] == "automations.test"
    assert {k: entry[k] for k in ("chrono_id", "run_id", "channel", "event")} == dict.fromkeys(
        ("chrono_id", "run_id", "channel", "event"))


def test_fields_bound_around_the_work_appear_on_every_line_logged_inside(capture):
    buffer = capture("json")
    with log_context(chrono_id=7, run_id=42):
        logging.getLogger("x").info("first")
        logging.getLogger("y").warning("second", extra={"event": "run.retrying", "channel": "shop"})
    logging.getLogger("x").info("after")
    first, second, after = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert (first["chrono_id"], first["run_id"], first["event"]) == (7, 42, None)
    assert (second["chrono_id"], second["run_id"], second["event"], second["channel"]) == (7, 42, "run.retrying", "shop")
    assert after["chrono_id"] is None and after["run_id"] is None


def test_an_exception_stays_inside_its_one_json_line(capture):
    buffer = capture("json")
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("x").exception("it broke")
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1
    assert "ValueError: bad value" in json.loads(lines[0])["exception"]


def test_extras_json_cannot_hold_are_written_as_text(capture):
    buffer = capture("json")
    logging.getLogger("x").info("odd", extra={"when": Chrono(name="n")})
    assert json.loads(buffer.getvalue())["when"] == "n"


def test_the_default_format_stays_human_readable_with_the_context_at_the_end(capture):
    buffer = capture("plain")
    with log_context(chrono_id=7, run_id=42):
        logging.getLogger("automations.runs.execution").info("run %s done", 42)
    line = buffer.getvalue().strip()
    assert not line.startswith("{")
    assert line.endswith("INFO automations.runs.execution run 42 done [chrono_id=7 run_id=42]")


def test_an_unknown_log_format_stops_start_up_naming_the_variable():
    result = start_django(LOG_FORMAT="xml")
    assert result.returncode != 0 and "LOG_FORMAT" in result.stderr


def _entries_about(log: str, run_id: int) -> list[dict]:
    """The JSON lines of ``log`` that name ``run_id`` (a line still being written is skipped)."""
    entries = []
    for line in log.splitlines():
        try:
            entries.append(json.loads(line) if line.startswith("{") else {})
        except json.JSONDecodeError:
            continue
    return [e for e in entries if e.get("run_id") == run_id]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_json_worker_logs_every_line_of_a_run_as_json_naming_its_chrono_and_run(local_server, tmp_path):
    local_server.reply("/hook", status=204)
    chrono = Chrono.objects.create(name="Logged", schedule="0 0 1 1 *", timezone="UTC", target_type="HTTP",
                                   url=local_server.url("/hook"), method="POST")

    with running("worker", log_dir=tmp_path, LOG_FORMAT="json") as procs:
        run = chrono.trigger()
        # Wait for this run's own line: the queue may still hold an earlier test's message,
        # and the worker logs that one's "run.executed" first.
        wait_until(lambda: any(e["event"] == "run.executed" for e in _entries_about(procs["worker"].log(), run.pk)),
                   timeout=30, message="the run to be logged")
        log = procs["worker"].log()

    about_the_run = _entries_about(log, run.pk)

    assert about_the_run and all(e["chrono_id"] == chrono.pk for e in about_the_run)
    assert any(e["event"] == "run.executed" and e["outcome"] == "success" for e in about_the_run)
    # No start-up banner: apart from Python's own warnings, every line is a JSON object.
    stray = [line for line in log.splitlines() if line.strip() and not line.startswith("{")]
    assert not any("celery@" in line or "[tasks]" in line for line in stray)
