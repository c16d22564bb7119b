"""Times in the operator's zone, always labelled, runs to the second: admin, API and commands."""

import io
from datetime import datetime, timezone as dt_timezone

from django.core.management import call_command
from django.utils import timezone

from accounts.models import OperatorProfile
from automations.models import ChronoRun

PT = {"HTTP_ACCEPT_LANGUAGE": "pt-BR"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
AT = datetime(2026, 12, 2, 11, 0, 5, tzinfo=dt_timezone.utc)  # 08:00:05 in São Paulo, 20:00:05 in Tokyo


def a_run(make_chrono, **fields) -> ChronoRun:
    chrono = make_chrono(name="Lembrete")
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=AT, status="success", **fields)


def test_the_run_list_shows_seconds_and_the_zone_in_the_deployment_zone(admin_client, make_chrono):
    a_run(make_chrono)
    page = admin_client.get("/admin/automations/chronorun/", **PT).content.decode()
    assert "02/12/2026 08:00:05 -03" in page


def test_the_operators_zone_wins_over_the_deployments(admin_client, admin_user, make_chrono):
    OperatorProfile.objects.create(user=admin_user, time_zone="Asia/Tokyo")
    a_run(make_chrono)
    page = admin_client.get("/admin/automations/chronorun/", **EN).content.decode()
    assert "2026-12-02 20:00:05 JST" in page and "08:00:05" not in page


def test_the_chrono_page_shows_last_run_and_runs_in_the_operators_zone(admin_client, admin_user, make_chrono):
    OperatorProfile.objects.create(user=admin_user, time_zone="Asia/Tokyo")
    run = a_run(make_chrono, started_at=AT, finished_at=AT)
    run.chrono.last_run_at = AT
    run.chrono.save()
    page = admin_client.get(f"/admin/automations/chrono/{run.chrono.pk}/change/", **EN).content.decode()
    assert page.count("2026-12-02 20:00:05 JST") >= 2  # "last run at" and the runs inline
    assert "(America/Sao_Paulo)" in page  # the preview: fire times in the chrono's own zone, named


def test_the_deployment_zone_comes_from_time_zone(admin_client, make_chrono, settings):
    settings.TIME_ZONE = "Europe/Lisbon"
    a_run(make_chrono)
    page = admin_client.get("/admin/automations/chronorun/", **EN).content.decode()
    assert "2026-12-02 11:00:05 WET" in page


def test_the_api_gives_iso_8601_with_the_offset_of_the_operators_zone(admin_client, admin_user, make_chrono, api):
    run = a_run(make_chrono)
    assert api.get(f"/api/runs/{run.pk}/").json()["scheduled_for"] == "2026-12-02T08:00:05-03:00"
    OperatorProfile.objects.create(user=admin_user, time_zone="Asia/Tokyo")
    assert admin_client.get(f"/api/runs/{run.pk}/").json()["scheduled_for"] == "2026-12-02T20:00:05+09:00"


def test_chrono_runs_prints_the_deployment_zone_with_its_name(make_chrono):
    run = a_run(make_chrono)
    out = io.StringIO()
    call_command("chrono", "runs", str(run.chrono.pk), stdout=out)
    text = out.getvalue()
    assert "SCHEDULED FOR (America/Sao_Paulo)" in text
    assert "2026-12-02 08:00:05 -03 (America/Sao_Paulo)" in text


def test_chrono_show_labels_the_last_run_in_the_deployment_zone(make_chrono, settings):
    settings.TIME_ZONE = "UTC"
    chrono = make_chrono()
    chrono.last_run_at, chrono.last_run_status = AT, "success"
    chrono.save()
    out = io.StringIO()
    call_command("chrono", "show", str(chrono.pk), stdout=out)
    assert "2026-12-02 11:00:05 UTC success" in out.getvalue()


def test_a_request_does_not_leave_its_operators_zone_behind(admin_client, admin_user, db):
    OperatorProfile.objects.create(user=admin_user, time_zone="Asia/Tokyo")
    admin_client.get("/admin/", **EN)
    assert timezone.get_current_timezone_name() == "America/Sao_Paulo"
