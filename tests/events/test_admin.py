"""The admin: triggers and alerts on the chrono page, webhook actions, the event log, ready-made automations."""

import pytest
from django.contrib.messages import get_messages

from automations.models import AlertPolicy, Chrono, Event, IntegratorHook, MessageTrigger

pytestmark = pytest.mark.django_db


def change_form_data(chrono: Chrono, **extra) -> dict:
    """The chrono change form as the browser posts it, with empty inline management forms."""
    data = {"name": chrono.name, "description": "", "is_active": "on", "schedule": chrono.schedule,
            "timezone": chrono.timezone, "target_type": chrono.target_type, "method": chrono.method, "url": chrono.url,
            "headers": "{}", "payload": "null", "timeout_ms": "", "message_template": chrono.message_template,
            "recipients": "[]", "extras": "{}", "max_attempts": "", "backoff_ms": "", "misfire_policy": "run_once",
            "catchup_window_s": "3600", "overlap_policy": "skip"}
    for prefix in ("hook", "message_trigger", "alert_policy", "runs"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return {**data, **extra}


def action(admin_client, name: str, chrono: Chrono):
    return admin_client.post("/admin/automations/chrono/", {"action": name, "_selected_action": [chrono.pk]},
                             follow=True)


def test_the_new_url_action_shows_the_full_url_once(admin_client, make_chrono):
    chrono = make_chrono()

    response = action(admin_client, "new_hook_url", chrono)

    hook = IntegratorHook.objects.get(chrono=chrono)
    assert any(hook.url in str(m) for m in get_messages(response.wsgi_request))
    page = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()
    assert hook.token not in page and f"/hooks/{hook.token[:4]}********" in page


def test_a_chrono_without_a_webhook_shows_no_webhook_url(admin_client, make_chrono):
    chrono = make_chrono()
    page = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()
    assert "/hooks/" not in page


def test_the_new_url_action_retires_the_old_token(admin_client, make_chrono):
    chrono = make_chrono()
    old = IntegratorHook.rotate_token(chrono).token

    action(admin_client, "new_hook_url", chrono)

    assert IntegratorHook.objects.get(chrono=chrono).token != old


def test_the_signing_key_action_makes_signatures_required(admin_client, make_chrono):
    chrono = make_chrono()

    response = action(admin_client, "new_hook_signing_key", chrono)

    hook = IntegratorHook.objects.get(chrono=chrono)
    assert hook.signing_key and any(hook.signing_key in str(m) for m in get_messages(response.wsgi_request))
    assert hook.signing_key not in admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()


def test_turning_the_webhook_off_removes_it(admin_client, make_chrono, client):
    chrono = make_chrono()
    token = IntegratorHook.rotate_token(chrono).token

    action(admin_client, "remove_hook", chrono)

    assert client.post(f"/hooks/{token}", data=b"{}", content_type="application/json").status_code == 404


def test_a_message_trigger_is_added_on_the_chrono_page(admin_client, reply_chrono, channel):
    MessageTrigger.objects.all().delete()

    response = admin_client.post(f"/admin/automations/chrono/{reply_chrono.pk}/change/", change_form_data(
        reply_chrono, recipients='["{{ input.from }}"]', channel=channel.pk, **{
            "message_trigger-TOTAL_FORMS": "1", "message_trigger-0-channel": channel.pk,
            "message_trigger-0-match": "contains", "message_trigger-0-pattern": "cardápio",
            "message_trigger-0-senders": '["+55 11 99999-9999"]', "message_trigger-0-max_runs": "2",
            "message_trigger-0-per_seconds": "60"}))

    assert response.status_code == 302, response.context["errors"] if response.context else response
    trigger = MessageTrigger.objects.get(chrono=reply_chrono)
    assert (trigger.match, trigger.pattern, trigger.senders) == ("contains", "cardápio", ["5511999999999@c.us"])


def test_a_bad_regex_is_a_form_error_and_nothing_is_saved(admin_client, reply_chrono, channel):
    MessageTrigger.objects.all().delete()

    response = admin_client.post(f"/admin/automations/chrono/{reply_chrono.pk}/change/", change_form_data(
        reply_chrono, name="Renamed", recipients='["{{ input.from }}"]', channel=channel.pk, **{
            "message_trigger-TOTAL_FORMS": "1", "message_trigger-0-channel": channel.pk,
            "message_trigger-0-match": "regex", "message_trigger-0-pattern": "(menu",
            "message_trigger-0-senders": "[]", "message_trigger-0-max_runs": "3",
            "message_trigger-0-per_seconds": "60"}))

    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    reply_chrono.refresh_from_db()
    assert reply_chrono.name == "Menu" and not MessageTrigger.objects.exists()


def test_an_alert_policy_shows_why_the_chrono_was_paused(admin_client, make_chrono):
    chrono = make_chrono()
    AlertPolicy.objects.create(chrono=chrono, pause_after=3, paused_reason="Paused automatically after 3 failed runs")

    page = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()

    assert "Paused automatically after 3 failed runs" in page


def test_an_alert_policy_without_a_destination_is_a_form_error(admin_client, make_chrono):
    chrono = make_chrono()

    response = admin_client.post(f"/admin/automations/chrono/{chrono.pk}/change/", change_form_data(chrono, **{
        "alert_policy-TOTAL_FORMS": "1", "alert_policy-0-after_failures": "5"}))

    assert response.status_code == 200
    assert "Set where alerts go" in response.content.decode()
    assert not AlertPolicy.objects.exists()


def test_the_event_log_lists_events_with_links_to_their_runs(admin_client, reply_chrono):
    run = reply_chrono.trigger(trigger="message", input={"from": "x"})
    Event.objects.create(source="message", outcome="triggered", contact="5511999999999@c.us", summary="menu",
                         triggered=[{"chrono": reply_chrono.pk, "name": "Menu", "run": run.pk}])

    page = admin_client.get("/admin/automations/event/").content.decode()

    assert "5511999999999@c.us" in page and f"/admin/automations/chronorun/{run.pk}/change/" in page


def test_the_event_log_is_read_only(admin_client):
    assert admin_client.get("/admin/automations/event/add/").status_code == 403


def test_the_ready_made_page_lists_every_template(admin_client, channel):
    page = admin_client.get("/admin/automations/chrono/ready-made/").content.decode()

    for title in ("Appointment reminder", "Overdue-billing reminder", "Daily summary to the owner",
                  "Reactivation of inactive contacts", "Keyword auto-reply"):
        assert title in page
    assert "Add from a ready-made template" in admin_client.get("/admin/automations/chrono/").content.decode()


def test_the_ready_made_page_installs_and_shows_the_chronos_it_created(admin_client, channel):
    response = admin_client.post("/admin/automations/chrono/ready-made/", {
        "template": "keyword-auto-reply", "keyword-auto-reply-channel": "front",
        "keyword-auto-reply-keyword": "menu", "keyword-auto-reply-reply": "Nosso cardápio: ..."})

    chrono = Chrono.objects.get()
    assert response.status_code == 200
    assert f"/admin/automations/chrono/{chrono.pk}/change/" in response.content.decode()
    assert chrono.message_trigger.pattern == "menu"


def test_the_ready_made_page_shows_a_bad_answer_on_its_field(admin_client, channel):
    response = admin_client.post("/admin/automations/chrono/ready-made/", {
        "template": "billing-reminder", "billing-reminder-channel": "front",
        "billing-reminder-url": "https://erp.test/overdue", "billing-reminder-time": "7 o'clock"})

    assert response.status_code == 400
    assert response.context["recipes"][1][1].errors == {
        "time": ["\"7 o'clock\" is not a time of day; write it as HH:MM, e.g. 08:30."]}
    assert not Chrono.objects.exists()


def test_the_ready_made_page_needs_permission_to_add_chronos(client, django_user_model):
    staff = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(staff)

    assert client.get("/admin/automations/chrono/ready-made/").status_code == 403
