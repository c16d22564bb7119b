"""Issue 8's acceptance through real processes: ChronoFlow's live server, a real Celery
worker, a fake WAHA and a local HTTP server, all on 127.0.0.1.

- an integrator POST runs a FUNCTION chrono that reads ctx.input;
- WAHA posts a `message` "Menu": the sender gets the auto-reply, once (a redelivery of the
  same message changes nothing), and a bot answering every reply is stopped by the rate limit;
- three failing runs send one alert, and the success after them one recovery alert.
"""

import json

import pytest

from automations.models import AlertPolicy, ChronoRun, Event, IntegratorHook, MessageTrigger
from tests.events.conftest import message_payload
from tests.processes import running, wait_until
from tests.whatsapp.fake_waha import API_KEY, FakeWahaServer
from whatsapp.models import WebhookEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUSTOMER = "5511999999999@c.us"
BOT = "5511911112222@c.us"


def final_runs(chrono) -> list[ChronoRun]:
    return list(chrono.runs.filter(status__in=ChronoRun.FINAL).order_by("pk"))


def test_an_integrator_post_runs_a_function_that_reads_its_input(function_chrono, post_hook, tmp_path):
    hook = IntegratorHook.rotate_token(function_chrono)

    with running("worker", log_dir=tmp_path):
        response = post_hook(hook, {"name": "Ana"}, query="?wait=1")
        run = wait_until(lambda: final_runs(function_chrono), timeout=60, message="the function run")[0]

    assert run.status == "success", run.error_message
    assert (run.trigger, run.input, run.result["return"]) == ("webhook", {"name": "Ana"}, {"hello": "Ana"})
    # ?wait=1 answered with the result when the worker was quick enough, else with the run id to poll.
    assert response.json()["run_id"] == run.pk
    if response.status_code == 200:
        assert response.json()["result"]["return"] == {"hello": "Ana"}


@pytest.fixture
def waha_server(settings, live_server, channel):
    """The fake WAHA on a socket, its session configured with the channel's webhook (as ChronoFlow does)."""
    with FakeWahaServer() as server:
        settings.WAHA_BASE_URL, settings.WAHA_API_KEY, settings.WAHA_WEBHOOK_HMAC_KEY = server.url, API_KEY, ""
        settings.PUBLIC_BASE_URL = live_server.url
        server.fake.add_session("front", "WORKING", config=channel.session_config(),
                                me={"id": "5511888888888@c.us", "pushName": "Loja"})
        yield server
    assert server.fake.violations == []


def test_menu_gets_one_auto_reply_and_a_looping_bot_is_stopped(channel, make_chrono, waha_server, live_server,
                                                               tmp_path):
    chrono = make_chrono(name="Menu", target_type="MESSAGE", channel=channel, recipients=["{{ input.from }}"],
                         message_template="Nosso cardápio: 1) Pizza 2) Suco", overlap_policy="allow")
    MessageTrigger.objects.create(chrono=chrono, channel=channel, match="exact", pattern="menu", max_runs=3)
    waha = waha_server.fake
    env = {"WAHA_BASE_URL": waha_server.url, "WAHA_API_KEY": API_KEY, "PUBLIC_BASE_URL": live_server.url}

    with running("worker", log_dir=tmp_path, **env):
        menu = message_payload("Menu", sender=CUSTOMER)
        assert waha.emit("front", "message", menu) == [200]
        wait_until(lambda: len(waha.sent) == 1, timeout=60, message="the auto-reply")
        assert waha.emit("front", "message", menu) == [200]  # WAHA delivers the same message again

        # A bot that answers every message with "menu" (our replies come back as its input).
        for _ in range(8):
            assert waha.emit("front", "message", message_payload("menu", sender=BOT)) == [200]
        wait_until(lambda: WebhookEvent.objects.filter(processed_at__isnull=False).count() == 10, timeout=60,
                   message="every webhook event processed")
        wait_until(lambda: len(final_runs(chrono)) == 4, timeout=60, message="the replies to finish")

    assert chrono.runs.count() == 4  # runs are created while events are processed: none can come later
    replies = [(m["chatId"], m["text"]) for m in waha.sent]
    assert replies.count((CUSTOMER, "Nosso cardápio: 1) Pizza 2) Suco")) == 1
    assert replies.count((BOT, "Nosso cardápio: 1) Pizza 2) Suco")) == 3  # max_runs per contact per minute
    assert len(replies) == 4
    assert Event.objects.filter(source="message", contact=BOT, outcome="limited").count() == 5


def test_three_failures_send_one_alert_and_the_success_after_them_one_recovery(make_chrono, local_server, tmp_path):
    local_server.reply("/flaky", status=500, body="down")
    local_server.reply("/alerts", status=204)
    chrono = make_chrono(name="Sync", url=local_server.url("/flaky"), max_attempts=1)
    AlertPolicy.objects.create(chrono=chrono, webhook_url=local_server.url("/alerts"))

    with running("worker", log_dir=tmp_path):
        for n in range(1, 4):
            chrono.trigger()
            wait_until(lambda n=n: len(final_runs(chrono)) == n, timeout=60, message=f"failed run {n}")
        wait_until(lambda: local_server.requests_to("/alerts"), timeout=30, message="the alert")
        local_server.reply("/flaky", status=200)
        chrono.trigger()
        wait_until(lambda: len(local_server.requests_to("/alerts")) == 2, timeout=60, message="the recovery alert")

    alerts = [json.loads(request.body) for request in local_server.requests_to("/alerts")]
    assert [a["event"] for a in alerts] == ["chrono.failing", "chrono.recovered"]
    assert alerts[0]["consecutive_failures"] == 3
    assert [r.status for r in final_runs(chrono)] == ["failed", "failed", "failed", "success"]
