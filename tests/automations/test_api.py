import re
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automations.models import Chrono, ChronoRun
from functions.models import UserFunction
from tests.api_client import token_client
from tests.automations.beat import assert_beat_matches_active_chronos
from whatsapp.models import Channel

HTTP_BODY = {"name": "Ping", "schedule": "0 8 * * *", "timezone": "America/Sao_Paulo",
             "target_type": "HTTP", "url": "https://example.org/hook", "method": "POST"}
# DESIGN.md §8, exactly as the original system's users post it.
ORIGINAL_HTTP_BODY = {"name": "Webhook teste", "cron": "in 10 min", "targetType": "HTTP",
                      "url": "https://example.org/hook", "method": "POST", "payload": {"hello": "world"},
                      "isActive": True}


def user_with(*codenames: str) -> User:
    user = User.objects.create_user("operator", password="x")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="automations", codename__in=codenames))
    return user


def make_runs(chrono: Chrono, count: int, **fields) -> list[ChronoRun]:
    start = timezone.now() - timedelta(days=1)
    return ChronoRun.objects.bulk_create(
        ChronoRun(chrono=chrono, scheduled_for=start + timedelta(minutes=i), **fields) for i in range(count)
    )


# --- Authentication and permissions -------------------------------------------------------

def test_an_anonymous_request_is_refused(db):
    response = APIClient().get("/api/chronos/")
    assert response.status_code in (401, 403)


def test_a_token_in_the_authorization_header_authenticates(make_chrono, admin_user):
    make_chrono(name="Nightly report")
    response = token_client(admin_user).get("/api/chronos/")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["Nightly report"]


def test_a_user_without_permissions_is_forbidden(db):
    response = token_client(user_with()).get("/api/chronos/")
    assert response.status_code == 403


def test_a_user_with_the_view_permission_can_list_but_not_create(make_chrono):
    make_chrono()
    client = token_client(user_with("view_chrono"))
    assert client.get("/api/chronos/").status_code == 200
    assert client.post("/api/chronos/", HTTP_BODY, format="json").status_code == 403
    assert Chrono.objects.count() == 1


def test_pausing_needs_the_change_permission_not_the_add_permission(make_chrono):
    chrono = make_chrono()
    adder = token_client(user_with("view_chrono", "add_chrono"))
    assert adder.post(f"/api/chronos/{chrono.pk}/pause/").status_code == 403
    User.objects.all().delete()
    changer = token_client(user_with("view_chrono", "change_chrono"))
    assert changer.post(f"/api/chronos/{chrono.pk}/pause/").status_code == 200


def test_a_chronos_run_history_needs_the_view_permission_on_runs_too(make_chrono):
    chrono = make_chrono()
    make_runs(chrono, 1)
    assert token_client(user_with("view_chrono")).get(f"/api/chronos/{chrono.pk}/runs/").status_code == 403
    User.objects.all().delete()
    reader = token_client(user_with("view_chrono", "view_chronorun"))
    assert reader.get(f"/api/chronos/{chrono.pk}/runs/").json()["count"] == 1


# --- Creating -----------------------------------------------------------------------------

def test_creating_with_snake_case_fields_saves_the_chrono_and_its_beat_task(api):
    response = api.post("/api/chronos/", {**HTTP_BODY, "headers": {"X-Token": "t"}, "timeout_ms": 5000}, format="json")
    assert response.status_code == 201, response.json()
    chrono = Chrono.objects.get(pk=response.json()["id"])
    assert (chrono.schedule_kind, chrono.schedule_expression, chrono.is_recurring) == ("cron", "0 8 * * *", True)
    assert (chrono.headers, chrono.timeout_ms) == ({"X-Token": "t"}, 5000)
    assert_beat_matches_active_chronos()
    assert PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").exists()


def test_the_original_systems_camel_case_body_is_accepted_as_it_is(api):
    before = timezone.now()
    response = api.post("/api/chronos/", ORIGINAL_HTTP_BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["schedule"], body["target_type"], body["is_active"]) == (
        "Webhook teste", "in 10 min", "HTTP", True)
    assert body["payload"] == {"hello": "world"}
    assert (body["schedule_kind"], body["is_recurring"]) == ("once", False)
    run_at = Chrono.objects.get(pk=body["id"]).run_at
    assert before + timedelta(minutes=10) <= run_at <= timezone.now() + timedelta(minutes=10)
    assert_beat_matches_active_chronos()


def test_a_camel_case_message_body_maps_channel_id_and_message_template(api):
    channel = Channel.objects.create(name="Front desk", session_name="front")
    body = {"name": "Bom dia", "cron": "todo dia as 08:00", "targetType": "MESSAGE", "channelId": channel.pk,
            "messageTemplate": "Bom dia!", "recipients": ["+5511999999999"], "isActive": True, "timeoutMs": 3000}
    response = api.post("/api/chronos/", body, format="json")
    assert response.status_code == 201, response.json()
    chrono = Chrono.objects.get(pk=response.json()["id"])
    assert (chrono.channel, chrono.message_template, chrono.recipients) == (channel, "Bom dia!", ["+5511999999999"])
    assert (chrono.schedule_expression, chrono.timeout_ms) == ("0 8 * * *", 3000)


def test_keys_inside_the_payload_and_headers_keep_their_spelling(api):
    body = {**ORIGINAL_HTTP_BODY, "payload": {"userId": 7, "nested": {"camelKey": True}},
            "headers": {"X-Request-Id": "abc"}}
    response = api.post("/api/chronos/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["payload"] == {"userId": 7, "nested": {"camelKey": True}}
    assert response.json()["headers"] == {"X-Request-Id": "abc"}


def test_the_response_describes_the_schedule_in_two_languages_with_the_next_five_fire_times(api):
    response = api.post("/api/chronos/", {**HTTP_BODY, "schedule": "todo dia às 08:00"}, format="json")
    body = response.json()
    assert "8:00" in body["schedule_description"]["en"] and "08:00" in body["schedule_description"]["pt_BR"]
    assert body["schedule_description"]["en"] != body["schedule_description"]["pt_BR"]
    assert len(body["next_fire_times"]) == 5
    # Shown in the chrono's zone: 08:00 in São Paulo (UTC-3).
    assert all(t.endswith("T08:00:00-03:00") for t in body["next_fire_times"])
    assert body["next_run_at"] is not None


def test_the_old_systems_six_field_cron_is_saved_as_five_fields_with_a_note_in_the_description(api):
    response = api.post("/api/chronos/", {**ORIGINAL_HTTP_BODY, "cron": "0 0 8 * * *"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["schedule"], body["schedule_kind"], body["schedule_expression"]) == ("0 0 8 * * *", "cron", "0 8 * * *")
    assert "converted from the 6-field cron '0 0 8 * * *'" in body["schedule_description"]["en"]
    assert "convertido do cron de 6 campos '0 0 8 * * *'" in body["schedule_description"]["pt_BR"]


def test_a_six_field_cron_with_seconds_is_a_400_naming_the_five_field_equivalent(api):
    response = api.post("/api/chronos/", {**ORIGINAL_HTTP_BODY, "cron": "30 0 8 * * *"}, format="json")
    assert response.status_code == 400
    assert "the 5-field equivalent is '0 8 * * *'" in response.json()["schedule"][0]
    assert not Chrono.objects.exists()


def test_the_response_notes_the_fire_times_a_dst_gap_moved(api):
    with time_machine.travel(datetime(2026, 3, 7, 12, 0, tzinfo=dt_timezone.utc)):
        response = api.post("/api/chronos/", {**HTTP_BODY, "schedule": "30 2 * * *", "timezone": "America/New_York"},
                            format="json")
    body = response.json()
    assert body["next_fire_times"][0] == "2026-03-08T03:00:00-04:00"
    assert body["fire_time_notes"] == [{
        "at": "2026-03-08T03:00:00-04:00",
        "en": "02:30 does not exist on 2026-03-08 in America/New_York (clocks jump from 02:00 to 03:00 for DST): "
              "runs at 03:00 instead",
        "pt_BR": "02:30 não existe em 08/03/2026 em America/New_York (o relógio pula de 02:00 para 03:00, "
                 "horário de verão): executa às 03:00",
    }]


def test_a_schedule_no_dst_gap_moves_has_no_fire_time_notes(api):
    assert api.post("/api/chronos/", HTTP_BODY, format="json").json()["fire_time_notes"] == []


# --- Refusing bad input: 400 keyed by the field, nothing saved -------------------------------

def post_refused(api, body: dict) -> dict:
    response = api.post("/api/chronos/", body, format="json")
    assert response.status_code == 400
    assert Chrono.objects.count() == 0
    assert_beat_matches_active_chronos()
    return response.json()


def test_a_schedule_it_cannot_read_is_refused_with_the_accepted_forms(api):
    errors = post_refused(api, {**HTTP_BODY, "schedule": "whenever you feel like it"})
    assert list(errors) == ["schedule"]
    assert "whenever you feel like it" in errors["schedule"][0]
    assert "every 15 minutes" in errors["schedule"][0] and "todo dia às 08:00" in errors["schedule"][0]


def test_an_unknown_target_type_is_refused(api):
    errors = post_refused(api, {**HTTP_BODY, "target_type": "SMS"})
    assert list(errors) == ["target_type"]


def test_an_http_chrono_without_a_url_is_refused(api):
    errors = post_refused(api, {**HTTP_BODY, "url": ""})
    assert errors == {"url": ["An HTTP chrono needs a url."]}


def test_a_method_outside_the_allowed_methods_is_refused(api, settings):
    settings.ALLOWED_METHODS = ["GET", "POST"]
    errors = post_refused(api, {**HTTP_BODY, "method": "delete"})
    assert list(errors) == ["method"]
    assert "GET, POST" in errors["method"][0]


def test_a_message_chrono_without_channel_template_or_recipients_is_refused(api):
    errors = post_refused(api, {**HTTP_BODY, "target_type": "MESSAGE", "url": ""})
    assert set(errors) == {"channel", "message_template", "recipients"}


def test_a_function_chrono_without_a_function_is_refused(api):
    errors = post_refused(api, {**HTTP_BODY, "target_type": "FUNCTION"})
    assert errors == {"function": ["A FUNCTION chrono needs a function."]}


def test_an_unknown_timezone_is_refused_on_the_timezone_field(api):
    errors = post_refused(api, {**HTTP_BODY, "timezone": "Mars/Olympus_Mons"})
    assert "timezone" in errors and "schedule" not in errors


def test_every_problem_is_reported_at_once(api):
    errors = post_refused(api, {**HTTP_BODY, "schedule": "sometime", "url": "", "method": "BREW"})
    assert set(errors) == {"schedule", "url", "method"}


def test_a_refused_update_leaves_the_chrono_and_beat_as_they_were(api, make_chrono):
    chrono = make_chrono(schedule="0 8 * * *")
    response = api.patch(f"/api/chronos/{chrono.pk}/", {"schedule": "sometime", "name": "Renamed"}, format="json")
    assert response.status_code == 400 and "schedule" in response.json()
    chrono.refresh_from_db()
    assert (chrono.name, chrono.schedule, chrono.schedule_expression) == ("Ping", "0 8 * * *", "0 8 * * *")
    assert PeriodicTask.objects.get(name=f"chrono:{chrono.pk}").crontab.hour == "8"


# --- Updating and deleting ------------------------------------------------------------------

def test_patching_the_schedule_moves_the_beat_task(api, make_chrono):
    chrono = make_chrono(schedule="0 8 * * *")
    response = api.patch(f"/api/chronos/{chrono.pk}/", {"schedule": "daily at 19:30"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["schedule_expression"] == "30 19 * * *"
    crontab = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}").crontab
    assert (crontab.minute, crontab.hour) == ("30", "19")
    assert_beat_matches_active_chronos()


def test_a_full_update_replaces_the_target(api, make_chrono):
    chrono = make_chrono()
    function = UserFunction.objects.create(name="billing", code="def run(ctx):\n    return 1\n")
    body = {**HTTP_BODY, "target_type": "FUNCTION", "url": "", "function": function.pk, "extras": {"region": "sp"}}
    response = api.put(f"/api/chronos/{chrono.pk}/", body, format="json")
    assert response.status_code == 200, response.json()
    chrono.refresh_from_db()
    assert (chrono.target_type, chrono.function, chrono.extras) == ("FUNCTION", function, {"region": "sp"})


def test_deactivating_with_patch_removes_the_beat_task(api, make_chrono):
    chrono, other = make_chrono(), make_chrono(name="Other")
    response = api.patch(f"/api/chronos/{chrono.pk}/", {"isActive": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_beat_matches_active_chronos()
    assert PeriodicTask.objects.filter(name=f"chrono:{other.pk}").exists()


def test_deleting_a_chrono_removes_it_and_its_beat_task(api, make_chrono):
    chrono, other = make_chrono(), make_chrono(name="Other")
    assert api.delete(f"/api/chronos/{chrono.pk}/").status_code == 204
    assert list(Chrono.objects.all()) == [other]
    assert_beat_matches_active_chronos()


# --- Pause, resume, trigger -------------------------------------------------------------------

def test_pause_deactivates_the_chrono_and_removes_its_beat_task(api, make_chrono):
    chrono = make_chrono()
    response = api.post(f"/api/chronos/{chrono.pk}/pause/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    chrono.refresh_from_db()
    assert not chrono.is_active
    assert_beat_matches_active_chronos()


def test_resume_reactivates_the_chrono_with_its_next_run_and_beat_task(api, make_chrono):
    chrono = make_chrono(is_active=False)
    response = api.post(f"/api/chronos/{chrono.pk}/resume/")
    assert response.status_code == 200
    assert response.json()["is_active"] is True and response.json()["next_run_at"] is not None
    assert PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").exists()
    assert_beat_matches_active_chronos()


def test_trigger_answers_202_with_the_new_run_and_enqueues_it_after_commit(
    api, make_chrono, monkeypatch, django_capture_on_commit_callbacks
):
    from automations import tasks

    sent = []
    monkeypatch.setattr(tasks.run_chrono, "apply_async", lambda **kw: sent.append(kw["kwargs"]))
    chrono = make_chrono()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/chronos/{chrono.pk}/trigger/")
    assert response.status_code == 202
    run = response.json()
    assert (run["chrono"], run["trigger"], run["status"]) == (chrono.pk, "manual", "pending")
    assert sent == [{"chrono_id": chrono.pk, "run_id": run["id"], "attempt": 0}]


def test_actions_on_a_missing_chrono_answer_404(api):
    assert api.post("/api/chronos/999/pause/").status_code == 404


# --- Runs -----------------------------------------------------------------------------------

def test_a_chronos_runs_are_listed_newest_first_page_by_page(api, make_chrono):
    chrono = make_chrono()
    runs = make_runs(chrono, 3)
    make_runs(make_chrono(name="Other"), 2)
    first = api.get(f"/api/chronos/{chrono.pk}/runs/?page_size=2").json()
    assert first["count"] == 3
    assert [r["id"] for r in first["results"]] == [runs[2].pk, runs[1].pk]
    second = api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [runs[0].pk]


def test_pages_hold_50_runs_unless_asked_and_at_most_500(api, make_chrono):
    make_runs(make_chrono(), 501)
    assert len(api.get("/api/runs/").json()["results"]) == 50
    assert len(api.get("/api/runs/?page_size=120").json()["results"]) == 120
    assert len(api.get("/api/runs/?page_size=5000").json()["results"]) == 500


def test_the_run_list_filters_by_chrono_status_and_trigger(api, make_chrono):
    chrono, other = make_chrono(), make_chrono(name="Other")
    [failed] = make_runs(chrono, 1, status="failed")
    make_runs(chrono, 1, status="success")
    make_runs(chrono, 1, status="failed", trigger="manual")
    make_runs(other, 1, status="failed")
    response = api.get(f"/api/runs/?chrono={chrono.pk}&status=failed&trigger=schedule")
    assert [r["id"] for r in response.json()["results"]] == [failed.pk]
    assert response.json()["results"][0]["chrono_name"] == "Ping"


def test_a_status_filter_may_list_several_statuses(api, make_chrono):
    chrono = make_chrono()
    for status in ("failed", "timeout", "success"):
        make_runs(chrono, 1, status=status)
    response = api.get("/api/runs/?status=failed,timeout")
    assert sorted(r["status"] for r in response.json()["results"]) == ["failed", "timeout"]


def test_an_unknown_filter_value_is_a_400_naming_the_parameter(api, db):
    response = api.get("/api/runs/?status=exploded&chrono=abc")
    assert response.status_code == 400
    assert set(response.json()) == {"status", "chrono"}


def test_runs_cannot_be_written_through_the_api(api, make_chrono):
    [run] = make_runs(make_chrono(), 1)
    assert api.patch(f"/api/runs/{run.pk}/", {"status": "success"}, format="json").status_code == 405
    assert api.delete(f"/api/runs/{run.pk}/").status_code == 405


def test_a_snake_case_key_wins_over_its_camel_case_twin(api):
    # cron/schedule twins that disagree are a 400 instead (issue 13: test_save_validation.py).
    response = api.post("/api/chronos/", {**HTTP_BODY, "cron": HTTP_BODY["schedule"], "targetType": "MESSAGE"},
                        format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["schedule"], response.json()["target_type"]) == ("0 8 * * *", "HTTP")


def test_a_form_post_from_the_browsable_api_reads_its_json_fields(api):
    snake = {**HTTP_BODY, "headers": '{"X-Trace": "t"}', "payload": '{"hello": "world"}'}
    camel = {**{k: v for k, v in snake.items() if k != "timeout_ms"}, "timeoutMs": "3000"}
    for body in (snake, camel):
        response = api.post("/api/chronos/", body, format="multipart")
        assert response.status_code == 201, response.json()
        assert (response.json()["headers"], response.json()["payload"]) == ({"X-Trace": "t"}, {"hello": "world"})


def test_the_browsable_api_renders_a_chrono_and_its_runs(admin_client, make_chrono):
    chrono = make_chrono(name="Nightly report")
    make_runs(chrono, 2)
    for url in ("/api/chronos/", f"/api/chronos/{chrono.pk}/", f"/api/chronos/{chrono.pk}/runs/", "/api/runs/"):
        response = admin_client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200 and "Nightly report" in response.content.decode(), url


def test_the_browsable_api_s_form_writes_numbers_as_the_number_inputs_read_them(admin_client, make_chrono):
    # Not "30.000": a browser reads that back as 30 (USE_THOUSAND_SEPARATOR stays off for this).
    chrono = make_chrono(timeout_ms=30000)
    html = admin_client.get(f"/api/chronos/{chrono.pk}/", HTTP_ACCEPT="text/html",
                            HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert re.search(r'name="timeout_ms"[^>]*value="30000"', html)
