"""The original system's routes and habits: /chronos, ?skip=&take=, action URLs without a slash,
"channelId" as a string. Same chronos, same permissions and bodies as /api/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from automations.api import SkipTakePagination
from automations.models import Chrono, ChronoRun
from tests.api_client import token_client
from tests.automations.test_api import user_with
from whatsapp.models import Channel


def make_runs(chrono: Chrono, count: int) -> list[ChronoRun]:
    start = timezone.now() - timedelta(days=1)
    return ChronoRun.objects.bulk_create(
        ChronoRun(chrono=chrono, scheduled_for=start + timedelta(minutes=i)) for i in range(count))


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


# --- GET /chronos, /chronos/:id, /chronos/:id/runs ------------------------------------------

@pytest.mark.parametrize("path", ["/chronos", "/chronos/"])
def test_get_chronos_lists_the_chronos_as_the_api_does(api, make_chrono, path):
    make_chrono(name="Alpha"), make_chrono(name="Beta")

    response = api.get(path)

    assert response.status_code == 200
    assert names(response) == ["Alpha", "Beta"] == names(api.get("/api/chronos/"))


def test_get_chronos_honours_skip_and_take(api, make_chrono):
    for name in ("A", "B", "C", "D"):
        make_chrono(name=name)

    body = api.get("/chronos", {"skip": 1, "take": 2}).json()

    assert [row["name"] for row in body["results"]] == ["B", "C"]
    assert body["count"] == 4 and "skip=3" in body["next"] and "take=2" in body["next"]


@pytest.mark.parametrize("path", ["/chronos/{pk}", "/chronos/{pk}/"])
def test_get_a_chrono_by_id_answers_like_the_api(api, make_chrono, path):
    chrono = make_chrono(name="Nightly")

    response = api.get(path.format(pk=chrono.pk))

    assert response.status_code == 200
    assert response.json() == api.get(f"/api/chronos/{chrono.pk}/").json()


def test_get_a_chronos_runs_honours_skip_and_take_newest_first(api, make_chrono):
    chrono = make_chrono()
    runs = make_runs(chrono, 5)

    body = api.get(f"/chronos/{chrono.pk}/runs", {"skip": 1, "take": 2}).json()

    assert [row["id"] for row in body["results"]] == [runs[3].pk, runs[2].pk]
    assert body["count"] == 5


@pytest.mark.parametrize("path", ["/chronos/999999", "/chronos/999999/runs", "/chronos/abc", "/chronos/1/nothing/here"])
def test_an_unknown_chrono_or_route_under_chronos_is_a_json_404(api, make_chrono, path, settings):
    settings.DEBUG = False

    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_chronos_needs_the_same_authentication_as_the_api(db):
    assert APIClient().get("/chronos").status_code in (401, 403)
    assert APIClient().get("/api/chronos/").status_code == APIClient().get("/chronos").status_code


def test_chronos_needs_the_same_permissions_as_the_api(make_chrono):
    chrono = make_chrono()
    make_runs(chrono, 1)
    reader = token_client(user_with("view_chrono"))

    assert reader.get("/chronos").status_code == 200
    assert reader.get(f"/chronos/{chrono.pk}/runs").status_code == 403  # runs need view_chronorun too
    assert reader.post(f"/chronos/{chrono.pk}/pause").status_code == 403


# --- ?skip=&take= on /api/ ---------------------------------------------------------------------

def test_api_runs_honours_skip_and_take(api, make_chrono):
    runs = make_runs(make_chrono(), 5)

    body = api.get("/api/runs/", {"skip": 2, "take": 2}).json()

    assert [row["id"] for row in body["results"]] == [runs[2].pk, runs[1].pk]
    assert body["count"] == 5 and "skip=4" in body["next"]


def test_take_alone_starts_at_the_first_row(api, make_chrono):
    runs = make_runs(make_chrono(), 3)

    body = api.get("/api/runs/", {"take": 1}).json()

    assert [row["id"] for row in body["results"]] == [runs[2].pk]


def test_take_is_capped_at_500():
    request = Request(APIRequestFactory().get("/api/runs/", {"take": 100000}))

    assert SkipTakePagination().get_limit(request) == 500


@pytest.mark.parametrize(("query", "field"), [
    ({"skip": -1}, "skip"), ({"skip": "a"}, "skip"), ({"take": 0}, "take"), ({"take": "ten"}, "take"),
])
def test_a_skip_or_take_that_is_not_a_whole_number_is_a_400_naming_it(api, make_chrono, query, field):
    make_runs(make_chrono(), 1)

    for path in ("/api/runs/", "/api/chronos/", "/chronos"):
        response = api.get(path, query)
        assert response.status_code == 400, path
        assert list(response.json()) == [field]


# --- action URLs without the trailing slash ----------------------------------------------------

@pytest.mark.parametrize("path", ["/api/chronos/{pk}/pause", "/chronos/{pk}/pause"])
def test_pause_without_the_trailing_slash_pauses_instead_of_redirecting(api, make_chrono, path):
    chrono = make_chrono()

    response = api.post(path.format(pk=chrono.pk))

    assert response.status_code == 200 and response.json()["is_active"] is False
    chrono.refresh_from_db()
    assert not chrono.is_active


def test_resume_and_trigger_without_the_trailing_slash_answer_like_with_it(api, make_chrono):
    chrono = make_chrono(is_active=False)

    assert api.post(f"/api/chronos/{chrono.pk}/resume").json()["is_active"] is True
    assert api.post(f"/api/chronos/{chrono.pk}/trigger").status_code == 202
    assert chrono.runs.count() == 1


def test_a_chrono_can_be_created_at_api_chronos_without_the_slash(api):
    body = {"name": "Ping", "cron": "0 8 * * *", "targetType": "HTTP", "url": "https://example.org/hook"}

    assert api.post("/api/chronos", body, format="json").status_code == 201


# --- "channelId" as a string ------------------------------------------------------------------

MESSAGE_BODY = {"name": "Bom dia", "cron": "todo dia as 08:00", "targetType": "MESSAGE",
                "messageTemplate": "Bom dia!", "recipients": ["+5511999999999"], "isActive": True}


@pytest.mark.parametrize("as_text", [lambda c: str(c.pk), lambda c: f" {c.pk} ", lambda c: c.session_name])
def test_channel_id_as_a_string_is_accepted(api, as_text):
    channel = Channel.objects.create(name="Front desk", session_name="front")

    response = api.post("/api/chronos/", {**MESSAGE_BODY, "channelId": as_text(channel)}, format="json")

    assert response.status_code == 201, response.json()
    assert Chrono.objects.get(pk=response.json()["id"]).channel == channel


@pytest.mark.parametrize("value", ["nosuch", "999"])
def test_an_unknown_channel_id_string_is_a_400_naming_the_channel_field(api, value):
    Channel.objects.create(name="Front desk", session_name="front")

    response = api.post("/api/chronos/", {**MESSAGE_BODY, "channelId": value}, format="json")

    assert response.status_code == 400
    assert response.json()["channel"] == [f"No channel has the id or session name {value!r}."]
    assert not Chrono.objects.exists()
