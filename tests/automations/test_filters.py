"""django-filter on the chrono and run lists: the parameters the schema documents."""

from datetime import timedelta

from django.utils import timezone

from automations.models import ChronoRun
from whatsapp.models import Channel


def names(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return sorted(item["name"] for item in response.json()["results"])


def test_chronos_filter_by_target_type_activity_and_name(api, make_chrono):
    channel = Channel.objects.create(name="Shop", session_name="shop")
    make_chrono(name="Bom dia")
    make_chrono(name="Boa noite", is_active=False)
    make_chrono(name="Lembrete", target_type="MESSAGE", channel=channel, message_template="Oi", recipients=["+5511999999999"])
    assert names(api.get("/api/chronos/?target_type=HTTP")) == ["Boa noite", "Bom dia"]
    assert names(api.get("/api/chronos/?is_active=false")) == ["Boa noite"]
    assert names(api.get(f"/api/chronos/?channel={channel.pk}")) == ["Lembrete"]
    assert names(api.get("/api/chronos/?search=BOM")) == ["Bom dia"]
    assert names(api.get("/api/chronos/?target_type=HTTP,MESSAGE")) == ["Boa noite", "Bom dia", "Lembrete"]


def test_an_unknown_target_type_is_a_400_naming_the_parameter_and_the_allowed_values(api, db):
    response = api.get("/api/chronos/?target_type=SMS")
    assert response.status_code == 400
    assert "Unknown value 'SMS'; use one of HTTP, MESSAGE, FUNCTION, ASSISTANT, ROUTINE, CAMPAIGN." in response.json()["target_type"][0]


def test_runs_filter_by_a_date_range(api, make_chrono):
    chrono, now = make_chrono(), timezone.now()
    for days in (1, 3, 5):
        ChronoRun.objects.create(chrono=chrono, scheduled_for=now - timedelta(days=days), error_message=f"{days}d")
    after, before = (now - timedelta(days=4)).isoformat(), (now - timedelta(days=2)).isoformat()
    response = api.get("/api/runs/", {"scheduled_after": after, "scheduled_before": before})
    assert [r["error_message"] for r in response.json()["results"]] == ["3d"]


def test_a_chronos_run_history_takes_the_same_run_filters(api, make_chrono):
    chrono = make_chrono()
    ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), status="failed")
    ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now() - timedelta(minutes=1), status="success")
    response = api.get(f"/api/chronos/{chrono.pk}/runs/?status=failed")
    assert [r["status"] for r in response.json()["results"]] == ["failed"]
    assert api.get(f"/api/chronos/{chrono.pk}/runs/?status=exploded").status_code == 400
