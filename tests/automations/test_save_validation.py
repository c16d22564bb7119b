"""Refused at save, naming the field, instead of failing every run (issue 13, item 14)."""

import pytest

from automations.models import Chrono
from functions.models import UserFunction
from whatsapp.models import Channel

pytestmark = pytest.mark.django_db

HTTP = {"name": "ping", "schedule": "daily at 08:00", "timezone": "UTC", "target_type": "HTTP",
        "url": "https://example.org/hook", "method": "POST"}


def refused(api, body: dict, field: str, path: str = "/api/chronos/") -> list[str]:
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json(), response.json()
    return response.json()[field]


def test_a_url_that_is_not_http_or_https_is_refused(api):
    assert "http" in refused(api, {**HTTP, "url": "ftp://example.org/file"}, "url")[0]
    assert not Chrono.objects.exists()


def test_an_absurd_timeout_is_refused(api):
    refused(api, {**HTTP, "timeoutMs": 1_000_000_000}, "timeout_ms")


def test_a_sane_timeout_is_kept(api):
    assert api.post("/api/chronos/", {**HTTP, "timeoutMs": 30_000}, format="json").status_code == 201


def test_unknown_fields_are_refused_and_listed(api):
    errors = refused(api, {**HTTP, "targetTipe": "HTTP", "colour": "red"}, "non_field_errors")
    assert "targetTipe" in errors[0] and "colour" in errors[0]


def test_unknown_fields_of_a_function_are_refused(api):
    errors = refused(api, {"name": "f", "code": "def run(ctx):\n    return 1\n", "timeout": 5},
                     "non_field_errors", path="/api/functions/")
    assert "timeout" in errors[0]


def test_cron_and_schedule_that_differ_are_refused(api):
    refused(api, {**HTTP, "cron": "0 9 * * *", "schedule": "0 8 * * *"}, "schedule")


def test_cron_and_schedule_that_agree_are_accepted(api):
    assert api.post("/api/chronos/", {**HTTP, "cron": "0 8 * * *", "schedule": "0 8 * * *"},
                    format="json").status_code == 201


def test_a_forbidden_import_is_refused_when_the_function_is_saved(api):
    errors = refused(api, {"name": "f", "code": "import os\n\ndef run(ctx):\n    return os.getcwd()\n"},
                     "code", path="/api/functions/")
    assert errors[0].startswith("Line 1") and "os" in errors[0]
    assert not UserFunction.objects.exists()


def test_a_forbidden_from_import_inside_run_is_refused(api):
    refused(api, {"name": "f", "code": "def run(ctx):\n    from subprocess import run\n    return 1\n"},
            "code", path="/api/functions/")


def test_allowed_imports_still_save(api):
    code = "import json\nfrom datetime import datetime\n\ndef run(ctx):\n    return json.dumps([1])\n"
    assert api.post("/api/functions/", {"name": "f", "code": code}, format="json").status_code == 201


def test_an_invalid_recipient_is_refused_at_save(api):
    channel = Channel.objects.create(name="front", session_name="front")
    body = {**HTTP, "target_type": "MESSAGE", "channel": channel.pk, "message_template": "Oi",
            "recipients": ["5511999999999", "not a number"]}
    assert "not a number" in " ".join(refused(api, body, "recipients"))


def test_a_one_shot_in_the_past_is_refused(api):
    errors = refused(api, {**HTTP, "schedule": "2020-01-01 10:00"}, "schedule")
    assert "past" in errors[0]


def test_a_one_shot_in_the_future_is_accepted(api):
    response = api.post("/api/chronos/", {**HTTP, "schedule": "2999-01-01 10:00"}, format="json")
    assert response.status_code == 201 and len(response.json()["next_fire_times"]) == 1


def test_the_admin_refuses_a_past_one_shot_on_the_schedule_field(admin_client):
    response = admin_client.post("/admin/automations/chrono/add/", {
        **HTTP, "schedule": "2020-01-01 10:00", "headers": "{}", "payload": "null", "recipients": "[]",
        "extras": "{}", "max_attempts": 1, "backoff_ms": 1000, "misfire_policy": "run_once",
        "catchup_window_s": 60, "overlap_policy": "allow", "is_active": "on"})
    assert response.status_code == 200 and not Chrono.objects.exists()
    assert "past" in str(response.context["adminform"].form.errors.get("schedule"))
