"""The FUNCTION target through run_chrono's body (automations.runs.execution), as a worker runs it."""

import pytest
from django.utils import timezone

from automations.models import Chrono, ChronoRun
from automations.runs import execution
from tests.whatsapp.fake_waha import API_KEY, FakeWahaServer
from whatsapp.models import Channel, Message

# DESIGN.md §8, "Cobrança atrasados", with the API's URL pointed at the local fake.
SECTION_8_CODE = (
    "def run(ctx):\n"
    "    r = ctx.http.get('URL/users?overdue=true')\n"
    "    for u in r.json():\n"
    "        ctx.message.send({'to': u['phone'], 'text': f\"Olá {u['name']}, sua fatura vence hoje\"})\n"
    "    ctx.state.set('count', (ctx.state.get('count') or 0) + len(r.json()))\n"
    "    ctx.log('enviados', len(r.json()))"
)
USERS = [{"name": "Ana", "phone": "+5511999990001"}, {"name": "Bia", "phone": "+5511999990002"}]


def fire(chrono: Chrono) -> ChronoRun:
    """One manual run, executed here as the worker would."""
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual")
    execution.execute(chrono.pk, None, None, run.pk, 0)
    run.refresh_from_db()
    return run


@pytest.fixture
def function_chrono(make_function):
    def make(code: str, **fields) -> Chrono:
        return Chrono.objects.create(name="fn", schedule="daily at 07:30", target_type="FUNCTION",
                                     function=make_function(code, **fields))

    return make


def test_a_successful_run_records_value_logs_state_change_and_counts(function_chrono):
    chrono = function_chrono("def run(ctx):\n    ctx.log('hi')\n    ctx.state.set('n', 1)\n    return {'done': True}\n")
    run = fire(chrono)
    assert run.status == "success"
    assert run.result["return"] == {"done": True} and run.result["logs"] == ["hi"]
    assert run.result["state_change"] == {"n": {"from": None, "to": 1}}
    assert run.result["http_calls"] == 0 and run.result["messages"] == 0
    assert run.response_snippet == '{"done": true}'


def test_a_failing_run_records_the_users_traceback_and_is_not_retried(function_chrono):
    chrono = function_chrono("def run(ctx):\n    return {}['missing']\n")
    run = fire(chrono)
    assert run.status == "failed" and run.attempt == 1
    assert run.error_message == "KeyError: 'missing' (line 2, in run: return {}['missing'])"
    assert run.result["error"]["traceback"] == ["line 2, in run: return {}['missing']"]
    chrono.refresh_from_db()
    assert chrono.last_error == run.error_message


def test_a_run_stopped_by_a_limit_names_the_limit(function_chrono):
    run = fire(function_chrono("def run(ctx):\n    while True:\n        pass\n", timeout_ms=300))
    assert run.status == "timeout" and run.result["limit"] == "timeout"
    assert "timeout_ms" in run.error_message


def test_chrono_extras_override_the_functions_env_in_ctx_env(function_chrono):
    chrono = function_chrono("def run(ctx):\n    return [ctx.env['a'], ctx.env['b']]\n", env={"a": 1, "b": 1})
    Chrono.objects.filter(pk=chrono.pk).update(extras={"b": 2})
    assert fire(Chrono.objects.get(pk=chrono.pk)).result["return"] == [1, 2]


def test_the_worker_keeps_running_other_chronos_after_an_abusive_one(function_chrono):
    abusive = [  # (code, timeout_ms, the run's final status)
        ("def run(ctx):\n    x = 'a' * (4 * 1024 ** 3)\n", 400, "failed"),
        ("def run(ctx):\n    while True:\n        pass\n", 400, "timeout"),
        ("def f():\n    return f()\n\ndef run(ctx):\n    f()\n", 400, "failed"),
        # Time enough for the output cap to stop it first, even on a loaded machine.
        ("def run(ctx):\n    while True:\n        ctx.log('z' * 8000)\n", 5000, "failed"),
    ]
    for code, timeout_ms, status in abusive:
        assert fire(function_chrono(code, timeout_ms=timeout_ms, max_memory_mb=64)).status == status
    assert fire(function_chrono("def run(ctx):\n    return 'still here'\n")).result["return"] == "still here"


def test_the_design_section_8_example_sends_its_messages_and_keeps_count(function_chrono, allowed_host, settings):
    allowed_host.reply("/users", body=USERS)
    settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = ["+55"]
    with FakeWahaServer() as waha:
        settings.WAHA_BASE_URL, settings.WAHA_API_KEY, settings.WAHA_TIMEOUT_MS = waha.url, API_KEY, 2000
        waha.fake.add_session("cobranca")
        channel = Channel.objects.create(name="Cobrança", session_name="cobranca", status=Channel.Status.WORKING)
        chrono = function_chrono(SECTION_8_CODE.replace("URL", allowed_host.url("")), max_http=5, max_messages=50,
                                 timeout_ms=10000)
        Chrono.objects.filter(pk=chrono.pk).update(channel=channel)
        chrono.refresh_from_db()
        first, second = fire(chrono), fire(chrono)
    assert (first.status, second.status) == ("success", "success")
    assert [s["text"] for s in waha.fake.sent] == ["Olá Ana, sua fatura vence hoje", "Olá Bia, sua fatura vence hoje"] * 2
    assert Message.objects.filter(direction="out", status="sent").count() == 4
    assert second.result["logs"] == ["enviados 2"] and second.result["messages"] == 2
    chrono.function.refresh_from_db()
    assert chrono.function.state == {"count": 4}
    assert waha.fake.violations == []
