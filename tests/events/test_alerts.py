"""Failure alerts: one alert after N failed runs in a row, one recovery alert, optional pause."""

import json

import pytest
import responses
from django.core import mail
from django.core.exceptions import ValidationError

from automations.events import alerts
from automations.models import AlertPolicy, ChronoRun
from automations.runs import execution
from whatsapp.models import Message
from tests.events.conftest import INTEGRATOR_URL

pytestmark = pytest.mark.django_db

ALERT_HOOK = "http://ops.test/alerts"
OPERATOR = "5511955554444@c.us"


@pytest.fixture
def chrono(make_chrono):
    return make_chrono(name="Billing sync", max_attempts=1, url=INTEGRATOR_URL)


@pytest.fixture
def policy(chrono) -> AlertPolicy:
    return AlertPolicy.objects.create(chrono=chrono, webhook_url=ALERT_HOOK)


@pytest.fixture
def alert_hook():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(INTEGRATOR_URL, status=500, body="down")
        rsps.post(ALERT_HOOK, status=200)
        yield rsps


def alerts_received(rsps) -> list[dict]:
    return [json.loads(call.request.body) for call in rsps.calls if call.request.url == ALERT_HOOK]


def run_once(chrono, django_capture_on_commit_callbacks, status: int | None = None, rsps=None) -> ChronoRun:
    """One run of the chrono, through the real execution path; `status` replaces the target's answer."""
    if status is not None:
        rsps.replace(responses.POST, INTEGRATOR_URL, status=status)
    with django_capture_on_commit_callbacks(execute=True):
        run = chrono.trigger()
    with django_capture_on_commit_callbacks(execute=True):
        execution.execute(chrono.pk, None, None, run.pk, 0)
    run.refresh_from_db()
    return run


def test_three_failed_runs_send_one_alert(chrono, policy, alert_hook, django_capture_on_commit_callbacks):
    for _ in range(2):
        run_once(chrono, django_capture_on_commit_callbacks)
    assert alerts_received(alert_hook) == []

    last = run_once(chrono, django_capture_on_commit_callbacks)

    [alert] = alerts_received(alert_hook)
    assert alert["event"] == "chrono.failing" and alert["consecutive_failures"] == 3
    assert alert["chrono"] == {"id": chrono.pk, "name": "Billing sync"}
    assert alert["run"]["id"] == last.pk and "HTTP 500" in alert["run"]["error"]
    assert "failed 3 times in a row" in alert["text"]


def test_further_failures_do_not_repeat_the_alert(chrono, policy, alert_hook, django_capture_on_commit_callbacks):
    for _ in range(6):
        run_once(chrono, django_capture_on_commit_callbacks)

    assert [a["event"] for a in alerts_received(alert_hook)] == ["chrono.failing"]
    policy.refresh_from_db()
    assert policy.consecutive_failures == 6 and policy.alerting


def test_the_next_success_sends_one_recovery_alert(chrono, policy, alert_hook, django_capture_on_commit_callbacks):
    for _ in range(3):
        run_once(chrono, django_capture_on_commit_callbacks)

    ok = run_once(chrono, django_capture_on_commit_callbacks, status=200, rsps=alert_hook)
    run_once(chrono, django_capture_on_commit_callbacks)  # succeeds again: nothing more to say

    failing, recovered = alerts_received(alert_hook)
    assert recovered["event"] == "chrono.recovered" and recovered["run"]["id"] == ok.pk
    assert "succeeded after 3 failed run(s)" in recovered["text"]
    policy.refresh_from_db()
    assert policy.consecutive_failures == 0 and not policy.alerting


def test_a_success_between_failures_resets_the_count(chrono, policy, alert_hook, django_capture_on_commit_callbacks):
    run_once(chrono, django_capture_on_commit_callbacks)
    run_once(chrono, django_capture_on_commit_callbacks)
    run_once(chrono, django_capture_on_commit_callbacks, status=200, rsps=alert_hook)
    alert_hook.replace(responses.POST, INTEGRATOR_URL, status=500)
    run_once(chrono, django_capture_on_commit_callbacks)
    run_once(chrono, django_capture_on_commit_callbacks)

    assert alerts_received(alert_hook) == []


def test_runs_still_retrying_do_not_count(chrono, policy, alert_hook, django_capture_on_commit_callbacks):
    type(chrono).objects.filter(pk=chrono.pk).update(max_attempts=3)
    chrono.refresh_from_db()

    for _ in range(3):
        run_once(chrono, django_capture_on_commit_callbacks)  # attempt 1 of 3 each: retrying, not failed

    assert alerts_received(alert_hook) == []


def test_a_chrono_without_a_policy_sends_nothing(chrono, alert_hook, django_capture_on_commit_callbacks):
    for _ in range(4):
        run_once(chrono, django_capture_on_commit_callbacks)

    assert alerts_received(alert_hook) == []


def test_the_alert_can_go_by_whatsapp_to_an_operator(chrono, channel, waha, django_capture_on_commit_callbacks):
    AlertPolicy.objects.create(chrono=chrono, after_failures=1, channel=channel, recipient=OPERATOR)

    run_once(chrono, django_capture_on_commit_callbacks)  # the fake WAHA's `responses` refuses the target's call

    [sent] = waha.sent
    assert sent["chatId"] == OPERATOR and "'Billing sync' failed 1 time in a row" in sent["text"]
    assert Message.objects.get(direction="out", chat_id=OPERATOR).status == "sent"


def test_the_alert_can_go_by_email(chrono, django_capture_on_commit_callbacks):
    AlertPolicy.objects.create(chrono=chrono, after_failures=1, email="ops@example.org")

    with responses.RequestsMock() as rsps:
        rsps.post(INTEGRATOR_URL, status=500)
        run_once(chrono, django_capture_on_commit_callbacks)

    [email] = mail.outbox
    assert email.to == ["ops@example.org"] and email.subject == "ChronoFlow: 'Billing sync' failed 1 time in a row"
    assert "HTTP 500" in email.body


def test_a_destination_that_fails_is_noted_and_the_others_still_get_it(chrono, django_capture_on_commit_callbacks):
    policy = AlertPolicy.objects.create(chrono=chrono, after_failures=1, webhook_url=ALERT_HOOK, email="ops@example.org")

    with responses.RequestsMock() as rsps:
        rsps.post(INTEGRATOR_URL, status=500)
        rsps.post(ALERT_HOOK, status=503)
        run_once(chrono, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    policy.refresh_from_db()
    assert "webhook: not sent (HTTP 503" in policy.last_alert and "email ops@example.org: sent" in policy.last_alert


def test_the_chrono_is_paused_after_m_failures_with_the_reason_kept(chrono, alert_hook,
                                                                    django_capture_on_commit_callbacks):
    policy = AlertPolicy.objects.create(chrono=chrono, webhook_url=ALERT_HOOK, after_failures=2, pause_after=3)

    for _ in range(3):
        run_once(chrono, django_capture_on_commit_callbacks)

    chrono.refresh_from_db()
    policy.refresh_from_db()
    assert not chrono.is_active
    assert "Paused automatically" in policy.paused_reason and "after 3 failed runs in a row" in policy.paused_reason
    assert chrono.last_error == policy.paused_reason
    assert [a["event"] for a in alerts_received(alert_hook)] == ["chrono.failing", "chrono.paused"]


def test_a_resumed_chrono_gets_m_more_tries_before_it_is_paused_again(chrono, alert_hook,
                                                                     django_capture_on_commit_callbacks):
    AlertPolicy.objects.create(chrono=chrono, webhook_url=ALERT_HOOK, pause_after=2)
    for _ in range(2):
        run_once(chrono, django_capture_on_commit_callbacks)
    chrono.refresh_from_db()
    chrono.resume()

    run_once(chrono, django_capture_on_commit_callbacks)
    chrono.refresh_from_db()
    assert chrono.is_active
    run_once(chrono, django_capture_on_commit_callbacks)
    chrono.refresh_from_db()
    assert not chrono.is_active


def test_skipped_runs_count_neither_way(chrono, policy, django_capture_on_commit_callbacks):
    AlertPolicy.objects.filter(pk=policy.pk).update(consecutive_failures=2)
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for="2026-01-01T00:00Z", status="skipped")

    alerts.after_run(run)

    policy.refresh_from_db()
    assert policy.consecutive_failures == 2


def test_a_policy_needs_somewhere_to_send_or_a_pause(chrono):
    with pytest.raises(ValidationError) as refused:
        AlertPolicy(chrono=chrono).full_clean()

    assert "where alerts go" in refused.value.message_dict["__all__"][0]


def test_a_whatsapp_alert_needs_a_valid_recipient_and_a_channel(chrono, channel):
    with pytest.raises(ValidationError) as refused:
        AlertPolicy(chrono=chrono, channel=channel, recipient="ops").full_clean()
    assert "'ops'" in refused.value.message_dict["recipient"][0]

    with pytest.raises(ValidationError) as refused:
        AlertPolicy(chrono=chrono, recipient="+55 11 95555-4444").full_clean()
    assert "channel" in refused.value.message_dict
