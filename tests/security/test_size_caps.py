"""Point 10: size caps. Each too-large input is refused with a 4xx naming the field,
and nothing is saved."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from automations.models import Chrono, IntegratorHook
from functions.models import UserFunction

BODY = {"name": "caps", "schedule": "every 5 minutes", "timezone": "UTC", "target_type": "HTTP",
        "url": "http://example.org/hook", "method": "POST"}


@pytest.fixture
def staff_api(db):
    client = APIClient()
    client.force_authenticate(User.objects.create_user("staff", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def small_caps(settings):
    settings.MAX_PAYLOAD_BYTES = 100
    settings.MAX_HEADERS = 2
    settings.MAX_HEADER_BYTES = 50
    settings.MAX_TEMPLATE_CHARS = 20
    settings.MAX_RECIPIENTS = 2
    settings.MAX_FUNCTION_CODE_BYTES = 300
    return settings


@pytest.mark.parametrize("field, value", [
    ("payload", {"text": "x" * 200}),
    ("extras", {"k": "x" * 200}),
    ("headers", {"A": "1", "B": "2", "C": "3"}),
    ("headers", {"X-Long": "x" * 100}),
    ("message_template", "x" * 21),
    ("recipients", ["5511911111111", "5511922222222", "5511933333333"]),
])
def test_an_oversized_chrono_field_is_a_400_naming_it_and_nothing_is_saved(staff_api, small_caps, field, value):
    response = staff_api.post("/api/chronos/", {**BODY, field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json() and "limit" in response.json()[field][0]
    assert not Chrono.objects.exists()


def test_oversized_function_code_is_a_400_naming_the_code(staff_api, small_caps):
    code = "def run(ctx):\n" + "    x = 1\n" * 60
    response = staff_api.post("/api/functions/", {"name": "big", "code": code}, format="json")
    assert response.status_code == 400 and "MAX_FUNCTION_CODE_BYTES" in response.json()["code"][0]
    assert not UserFunction.objects.exists()


def test_the_admin_form_names_an_oversized_payload(admin_client, small_caps):
    response = admin_client.post("/admin/automations/chrono/add/", {
        **BODY, "payload": '{"text": "%s"}' % ("x" * 200), "headers": "{}", "recipients": "[]", "extras": "{}",
        "misfire_policy": "run_once", "overlap_policy": "skip", "catchup_window_s": 3600, "is_active": "on"})
    assert response.status_code == 200
    assert "MAX_PAYLOAD_BYTES" in str(response.context["adminform"].form.errors["payload"])
    assert not Chrono.objects.exists()


def test_a_request_body_over_max_request_bytes_is_a_400_on_the_api(staff_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = staff_api.post("/api/chronos/", {**BODY, "description": "x" * 5000}, format="json")
    assert response.status_code == 400
    assert not Chrono.objects.exists()


def test_webhook_bodies_over_their_cap_are_refused_before_any_work(db, client, settings):
    settings.HOOK_MAX_BODY_BYTES = 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    chrono = Chrono.objects.create(name="h", schedule="0 0 1 1 *", timezone="UTC", url="http://example.org/")
    hook = IntegratorHook.objects.create(chrono=chrono)
    big = b'{"x": "' + b"y" * 4000 + b'"}'
    refused = client.post(f"/hooks/{hook.token}", big, content_type="application/json")
    assert refused.status_code == 413 and "larger than 1024 bytes" in refused.json()["error"]
    from whatsapp.models import Channel

    channel = Channel.objects.create(name="front", session_name="front")
    waha = client.post(f"/whatsapp/webhooks/{channel.webhook_token}", big, content_type="application/json")
    assert waha.status_code == 400
    assert chrono.runs.count() == 0


@pytest.mark.parametrize("setting, data", [
    ("DATA_UPLOAD_MAX_MEMORY_SIZE", {**BODY, "description": "x" * 5000}),
    ("DATA_UPLOAD_MAX_NUMBER_FIELDS", {**BODY, **{f"extra{i}": "1" for i in range(30)}}),
])
@pytest.mark.parametrize("fmt", ["multipart", None])
def test_an_oversized_form_or_multipart_body_is_a_json_400(staff_api, settings, setting, data, fmt):
    # Django refuses these while DRF parses: they were its HTML "Bad Request (400)" page.
    setattr(settings, setting, 2048 if setting == "DATA_UPLOAD_MAX_MEMORY_SIZE" else 20)
    if fmt is None:
        from urllib.parse import urlencode
        response = staff_api.post("/api/chronos/", urlencode(data), content_type="application/x-www-form-urlencoded")
    else:
        response = staff_api.post("/api/chronos/", data, format=fmt)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert not Chrono.objects.exists()
