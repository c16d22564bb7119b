"""Point 8: who may use what. The API needs a token or a session and the right permission
(staff, or the model's Django permissions); CSRF stays on for sessions; the admin needs a
staff login; each webhook accepts only its own credentials."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automations.events import hooks
from automations.models import ChronoRun, IntegratorHook
from whatsapp import signature
from whatsapp.models import WebhookEvent

LISTS = ["/api/chronos/", "/api/runs/", "/api/channels/", "/api/messages/", "/api/functions/"]


def test_a_user_without_permissions_is_refused_on_every_api_list(cast, user_with, client_for):
    client = client_for(user_with())
    assert {path: client.get(path).status_code for path in LISTS} == dict.fromkeys(LISTS, 403)


def test_the_view_permission_lets_a_user_read_chronos_but_not_change_them_nor_read_runs(cast, user_with, client_for):
    client = client_for(user_with("automations.view_chrono"))
    chrono = cast["chrono"]
    assert client.get("/api/chronos/").status_code == 200
    assert client.patch(f"/api/chronos/{chrono.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.post(f"/api/chronos/{chrono.pk}/trigger/").status_code == 403
    assert client.get("/api/runs/").status_code == 403
    assert ChronoRun.objects.count() == 1


def test_staff_may_do_anything_through_the_api(cast, client_for, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw-123456789", is_staff=True)
    client = client_for(staff)
    assert client.patch(f"/api/chronos/{cast['chrono'].pk}/", {"name": "renamed"}, format="json").status_code == 200


def test_a_session_write_without_the_csrf_token_is_refused_and_a_token_write_needs_none(cast, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw-123456789", is_staff=True)
    browser = APIClient(enforce_csrf_checks=True)
    browser.login(username="staff", password="pw-123456789")
    url = f"/api/chronos/{cast['chrono'].pk}/"
    refused = browser.patch(url, {"name": "csrf"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    script = APIClient(enforce_csrf_checks=True)
    script.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert script.patch(url, {"name": "token"}, format="json").status_code == 200


def test_a_wrong_api_token_is_refused(cast):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/chronos/").status_code == 401


def test_the_admin_needs_a_staff_login(cast, django_user_model):
    django_user_model.objects.create_user("plain", password="pw-123456789")
    anonymous = Client().get(f"/admin/automations/chrono/{cast['chrono'].pk}/change/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    plain = Client()
    plain.login(username="plain", password="pw-123456789")
    assert "/admin/login/" in plain.get("/admin/").get("Location", "")


def test_an_integrator_hook_runs_only_with_its_own_token_and_signature(cast, client):
    hook = IntegratorHook.objects.create(chrono=cast["chrono"], signing_key="k" * 32)
    other = IntegratorHook.objects.create(chrono=type(cast["chrono"]).objects.create(
        name="other", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/"), signing_key="o" * 32)
    body = b'{"order": 1}'
    post = lambda token, sig: client.post(f"/hooks/{token}", body, content_type="application/json",  # noqa: E731
                                          HTTP_X_CHRONOFLOW_SIGNATURE=sig)
    assert post("not-a-token", "sha256=" + hooks.sign(hook.signing_key, body)).status_code == 404
    assert post(hook.token, "sha256=" + hooks.sign(other.signing_key, body)).status_code == 401
    assert post(hook.token, "").status_code == 401
    assert ChronoRun.objects.filter(trigger="webhook").count() == 0
    assert post(hook.token, "sha256=" + hooks.sign(hook.signing_key, body)).status_code == 202
    assert ChronoRun.objects.filter(trigger="webhook", chrono=cast["chrono"]).count() == 1


def test_a_waha_webhook_signed_with_another_channels_key_is_refused_and_stores_nothing(cast, client, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = ""  # per-channel keys
    mine = cast["channel"]
    other = type(mine).objects.create(name="other", session_name="other")
    body = json.dumps({"id": "evt_1", "event": "session.status", "session": "front",
                       "payload": {"status": "WORKING"}}).encode()
    url = reverse("whatsapp:webhook", args=[mine.webhook_token])
    post = lambda key: client.post(url, body, content_type="application/json",  # noqa: E731
                                   HTTP_X_WEBHOOK_HMAC=signature.sign(key, body), HTTP_X_WEBHOOK_HMAC_ALGORITHM="sha512")
    assert post(other.hmac_key).status_code == 401
    assert not WebhookEvent.objects.exists()
    assert post(mine.hmac_key).status_code == 200
