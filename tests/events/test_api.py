"""Message triggers, alerts and the (masked) integrator webhook through /api/chronos/."""

import pytest

from automations.models import AlertPolicy, IntegratorHook, MessageTrigger

pytestmark = pytest.mark.django_db

TRIGGER = {"channel": None, "match": "contains", "pattern": "cardápio", "senders": ["+55 11 99999-9999"],
           "max_runs": 2, "per_seconds": 120}


def body(channel, **extra) -> dict:
    return {"name": "Menu", "schedule": "manual", "target_type": "MESSAGE", "channel": channel.pk,
            "message_template": "Nosso cardápio", "recipients": ["{{ input.from }}"], **extra}


def test_a_chrono_is_created_with_its_message_trigger_and_alerts(admin_client, channel):
    response = admin_client.post("/api/chronos/", body(
        channel, message_trigger={**TRIGGER, "channel": channel.pk},
        alert_policy={"after_failures": 2, "webhook_url": "https://ops.example.org/alerts"}),
        content_type="application/json")

    assert response.status_code == 201, response.content
    trigger = MessageTrigger.objects.get()
    assert (trigger.pattern, trigger.senders, trigger.max_runs) == ("cardápio", ["5511999999999@c.us"], 2)
    assert AlertPolicy.objects.get().after_failures == 2
    assert response.json()["message_trigger"]["senders"] == ["5511999999999@c.us"]
    assert response.json()["alert_policy"]["consecutive_failures"] == 0


def test_a_bad_trigger_is_a_400_naming_the_nested_field_and_nothing_is_saved(admin_client, channel):
    response = admin_client.post("/api/chronos/", body(
        channel, message_trigger={**TRIGGER, "channel": channel.pk, "match": "regex", "pattern": "(menu"}),
        content_type="application/json")

    assert response.status_code == 400
    assert "regular expression" in response.json()["message_trigger"]["pattern"][0]
    assert not MessageTrigger.objects.exists()
    assert not type(channel).objects.get().chronos.exists()


def test_an_alert_policy_without_a_destination_is_a_400(admin_client, channel):
    response = admin_client.post("/api/chronos/", body(channel, alert_policy={"after_failures": 3}),
                                 content_type="application/json")

    assert response.status_code == 400
    assert "where alerts go" in response.json()["alert_policy"]["__all__"][0]


def test_null_removes_a_config_and_leaving_it_out_keeps_it(admin_client, reply_chrono):
    AlertPolicy.objects.create(chrono=reply_chrono, email="ops@example.org")
    url = f"/api/chronos/{reply_chrono.pk}/"

    assert admin_client.patch(url, {"description": "x"}, content_type="application/json").status_code == 200
    assert MessageTrigger.objects.exists() and AlertPolicy.objects.exists()

    assert admin_client.patch(url, {"message_trigger": None}, content_type="application/json").status_code == 200
    assert not MessageTrigger.objects.exists() and AlertPolicy.objects.exists()


def test_the_webhook_token_is_never_in_the_api(admin_client, make_chrono):
    chrono = make_chrono()
    hook = IntegratorHook.rotate_signing_key(chrono)

    answer = admin_client.get(f"/api/chronos/{chrono.pk}/")

    assert hook.token not in answer.content.decode() and hook.signing_key not in answer.content.decode()
    assert answer.json()["integrator_webhook"] == {"url": hook.masked_url, "signed": True}


def test_a_chrono_without_a_webhook_says_so(admin_client, make_chrono):
    chrono = make_chrono()

    assert admin_client.get(f"/api/chronos/{chrono.pk}/").json()["integrator_webhook"] is None
