"""Bad input found by fuzzing from outside (issue 13, items 2, 8-11): a 4xx naming it, never a 500."""

import pytest
from rest_framework.test import APIClient

from automations.models import ChronoRun, IntegratorHook
from chronoflow import jsonbody
from chronoflow.secrets import MASK
from functions.models import UserFunction
from tests.api_client import token_client
from tests.whatsapp.fake_waha import webhook_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user) -> APIClient:
    client = token_client(admin_user)
    client.raise_request_exception = False  # a 500 is an answer to assert on, not a crash of the test
    return client


def nested(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


# --- 2. A function's env is write-only --------------------------------------------------------

def test_a_functions_env_values_are_masked_in_the_api(api, cast):
    function = cast["function"]
    function.env = {"API_TOKEN": "FNSECRET-789", "BASE": "https://erp.example.org"}
    function.save()

    body = api.get(f"/api/functions/{function.pk}/").json()

    assert "FNSECRET-789" not in str(body) and "erp.example.org" not in str(body)
    assert body["env"] == {"API_TOKEN": MASK, "BASE": MASK}


def test_sending_the_mask_back_keeps_the_stored_env_value(api, cast):
    function = cast["function"]
    function.env = {"API_TOKEN": "FNSECRET-789"}
    function.save()

    response = api.patch(f"/api/functions/{function.pk}/", {"env": {"API_TOKEN": MASK, "NEW": "x"}}, format="json")

    assert response.status_code == 200
    function.refresh_from_db()
    assert function.env == {"API_TOKEN": "FNSECRET-789", "NEW": "x"}


def test_the_function_admin_page_does_not_show_env_values(admin_client, cast):
    function = cast["function"]
    function.env = {"API_TOKEN": "FNSECRET-789"}
    function.save()

    page = admin_client.get(f"/admin/functions/userfunction/{function.pk}/change/").content.decode()

    assert "FNSECRET-789" not in page


# --- 8. Offsets PostgreSQL cannot store -------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/runs/", "/api/chronos/{chrono}/runs/"])
def test_a_utc_offset_past_15_59_filters_runs_instead_of_a_500(api, cast, path):
    # 2026-01-01T00:00+16:00 is 2025-12-31T08:00Z: the cast's run (scheduled now) is after it.
    response = api.get(path.format(chrono=cast["chrono"].pk), {"scheduled_after": "2026-01-01T00:00:00+16:00"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1  # /api/runs/ pages by cursor, without a count


def test_the_offset_filter_compares_in_utc(cast):
    from automations.filters import RunFilter

    filterset = RunFilter({"scheduled_after": "2026-01-01T00:00:00+16:00"}, queryset=ChronoRun.objects.all())
    assert filterset.is_valid()
    compared = filterset.qs.query.where.children[0].rhs  # what the database is sent (SQLite would accept +16:00)
    assert compared.utcoffset().total_seconds() == 0 and compared.isoformat() == "2025-12-31T08:00:00+00:00"


# --- 9. Format suffixes on extra actions ------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("get", "/api/chronos/{chrono}/runs.json"),
    ("post", "/api/chronos/{chrono}/pause.json"),
    ("post", "/api/chronos/{chrono}/resume.json"),
    ("post", "/api/chronos/{chrono}/trigger.json"),
    ("get", "/api/channels/{channel}/history.json"),
    ("get", "/api/channels/{channel}/qr.json"),
])
def test_a_format_suffix_on_an_extra_action_is_answered_as_json(api, cast, method, path, django_capture_on_commit_callbacks):
    url = path.format(chrono=cast["chrono"].pk, channel=cast["channel"].pk)
    with django_capture_on_commit_callbacks(execute=False):
        response = getattr(api, method)(url)

    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json")


def test_a_format_suffix_on_a_function_test_run_is_not_a_500(api, cast):
    response = api.post(f"/api/functions/{cast['function'].pk}/run.json", {"input": None}, format="json")

    assert response.status_code == 200
    assert response.json()["ok"] is True


# --- 10. Deeply nested JSON -------------------------------------------------------------------

def test_the_loader_refuses_nesting_past_its_limit():
    with pytest.raises(ValueError, match="nested"):
        jsonbody.loads(nested(jsonbody.MAX_DEPTH + 1))
    assert jsonbody.loads(nested(jsonbody.MAX_DEPTH)) is not None
    assert jsonbody.loads('{"text": "[[[[{{{{\\"[["}') == {"text": '[[[[{{{{"[['}  # brackets in strings are text


def test_a_deeply_nested_api_body_is_a_400_naming_the_depth(api):
    response = api.post("/api/chronos/", data=nested(5000), content_type="application/json")

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_a_deeply_nested_hook_body_is_a_400(client, cast):
    hook = IntegratorHook.rotate_token(cast["chrono"])

    body = b"[" * 100_000 + b"]" * 100_000  # 200 KB, under the hook's size cap

    response = client.post(f"/hooks/{hook.token}", data=body, content_type="application/json")

    assert response.status_code == 400
    assert not ChronoRun.objects.filter(trigger="webhook").exists()


def test_a_deeply_nested_waha_webhook_is_a_400(client, cast, settings):
    settings.WAHA_WEBHOOK_HMAC_KEY = ""
    channel = cast["channel"]
    body = b'{"event": "message", "id": "e1", "payload": ' + nested(100_000) + b"}"
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v
               for k, v in webhook_headers(body, channel.webhook_hmac_key).items() if k != "Content-Type"}

    response = client.post(f"/whatsapp/webhooks/{channel.webhook_token}", data=body,
                           content_type="application/json", **headers)

    assert response.status_code == 400


# --- 11. Ids the router does not match --------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/runs/0.5/", "/api/chronos/1.2/", "/api/no-such-thing/"])
def test_an_unmatched_api_path_is_a_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_pages_outside_the_api_keep_djangos_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_a_function_that_is_created_keeps_its_env_for_the_run(api):
    response = api.post("/api/functions/", {"name": "env", "code": "def run(ctx):\n    return ctx.env['K']\n",
                                            "env": {"K": "v"}}, format="json")

    assert response.status_code == 201 and response.json()["env"] == {"K": MASK}
    assert UserFunction.objects.get().env == {"K": "v"}


# --- 12 (part). The 502 body says what the schema says --------------------------------------

def test_a_waha_failure_is_a_502_with_a_numeric_or_null_status_and_one_prefix(api, settings):
    settings.WAHA_BASE_URL = "http://127.0.0.1:9"  # nothing listens there: connection refused
    settings.WAHA_TIMEOUT_MS = 1000

    response = api.post("/api/channels/", {"name": "front", "session_name": "front"}, format="json")

    assert response.status_code == 502
    body = response.json()
    assert body["waha_status"] is None
    assert body["detail"].startswith("WAHA") and "WAHA: WAHA" not in body["detail"]


# --- Found by schemathesis (issue 13, item 13) --------------------------------------------------

@pytest.mark.parametrize("field", ["recipients", "headers", "extras"])
def test_a_form_sending_null_for_a_chronos_json_field_is_a_400_naming_it(api, cast, field):
    # A form carries null as the text "null": DRF's allow_null check never saw it, the NOT NULL column did.
    body = {"name": "cast", "schedule": "manual", "url": "http://example.org/hook", field: "null"}
    response = api.put(f"/api/chronos/{cast['chrono'].pk}/", body, format="multipart")

    assert response.status_code == 400, response.content[:300]
    assert field in response.json()


def test_a_form_sending_null_for_a_functions_state_is_a_400_naming_it(api, cast):
    response = api.patch(f"/api/functions/{cast['function'].pk}/", {"state": "null"}, format="multipart")

    assert response.status_code == 400 and "state" in response.json()


def test_a_form_may_still_send_null_for_a_nullable_json_field(api, cast):
    body = {"name": "cast", "schedule": "manual", "url": "http://example.org/hook", "payload": "null"}
    response = api.put(f"/api/chronos/{cast['chrono'].pk}/", body, format="multipart")

    assert response.status_code == 200 and response.json()["payload"] is None


def test_a_function_test_run_takes_its_input_as_json_only(api, cast):
    response = api.post(f"/api/functions/{cast['function'].pk}/run/", {"input": ""}, format="multipart")

    assert response.status_code == 415


@pytest.mark.parametrize("method, path", [("post", "/waha/sessions"), ("put", "/waha/sessions/front")])
def test_the_original_systems_session_routes_take_json_only(api, cast, method, path):
    response = getattr(api, method)(path, {"name": "shop", "start": "0", "displayName": "x"}, format="multipart")

    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/api/chronos/", "/api/runs/", "/api/chronos/{chrono}/runs/"])
@pytest.mark.parametrize("size", ["null", "0", "-1", "", "1.5"])
def test_a_page_size_that_is_not_a_whole_number_is_a_400_naming_it(api, cast, path, size):
    response = api.get(path.format(chrono=cast["chrono"].pk), {"page_size": size})

    assert response.status_code == 400 and "page_size" in response.json()


def test_a_page_size_past_the_maximum_still_gives_the_largest_page(api, cast):
    assert api.get("/api/chronos/", {"page_size": "100000"}).status_code == 200


@pytest.mark.parametrize("body", [{"name": "shop", "start": "0"}, {"name": 0}, {"name": "shop", "displayName": 5}])
def test_the_original_systems_session_create_refuses_values_of_the_wrong_type(api, body):
    response = api.post("/waha/sessions", body, format="json")

    assert response.status_code == 400 and set(response.json()) <= set(body) and response.json()


def test_the_original_systems_session_rename_refuses_a_name_that_is_not_a_string(api, cast):
    response = api.put("/waha/sessions/front", {"displayName": 0}, format="json")

    assert response.status_code == 400 and "displayName" in response.json()


@pytest.mark.parametrize("value", ["-58800", "yes", "True"])
def test_an_is_active_filter_that_is_not_true_or_false_is_a_400_naming_it(api, cast, value):
    response = api.get("/api/chronos/", {"is_active": value})

    assert response.status_code == 400 and "is_active" in response.json()


@pytest.mark.parametrize("body", [[None, None], "text", 5])
def test_the_original_systems_session_routes_refuse_a_body_that_is_not_an_object(api, cast, body):
    assert api.put("/waha/sessions/front", body, format="json").status_code == 400
    assert api.post("/waha/sessions", body, format="json").status_code == 400


@pytest.mark.parametrize("path", ["/api/runs/?chrono=0.5", "/api/chronos/{chrono}/runs/?chrono=1.5", "/api/chronos/?channel=2.5"])
def test_an_id_filter_that_is_not_a_whole_number_is_a_400_naming_it(api, cast, path):
    response = api.get(path.format(chrono=cast["chrono"].pk))

    assert response.status_code == 400 and path.split("?")[1].split("=")[0] in response.json()


# --- Found by schemathesis after the contacts, governor and media merges ----------------------

def test_a_channel_form_with_null_send_limits_is_a_400_naming_the_field(api):
    response = api.post("/api/channels/", {"name": "Loja", "session_name": "loja", "send_limits": "null"})
    assert response.status_code == 400 and "send_limits" in response.json()


def test_an_empty_take_is_no_take(api):
    response = api.get("/api/runs/?skip=0&take=")
    assert response.status_code == 200


def test_contacts_refuse_a_page_size_of_zero(api):
    response = api.get("/api/contacts/?page_size=0")
    assert response.status_code == 400 and "page_size" in response.json()


def test_the_media_link_answers_other_methods_with_405(client):
    assert client.generic("QUERY", "/whatsapp/media/some-token").status_code == 405


def test_contacts_refuse_an_opted_out_that_is_not_true_or_false(api):
    response = api.get("/api/contacts/?opted_out=-58800")
    assert response.status_code == 400 and "opted_out" in response.json()
