"""/api/schema/: a valid OpenAPI 3 document of every endpoint, with its filters, enums and errors."""

import re

import pytest
from django.contrib.admindocs.views import simplify_regex
from django.utils import timezone
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

# Pages for people, not endpoints of the API: the admin, DRF's login pages, the API's
# browsable root, the site's root (a redirect to the admin), and the schema and its
# documentation pages themselves.
NOT_ENDPOINTS = ("/admin/", "/api-auth/", "/api/schema/", "/api/docs/", "/api/redoc/")
OWN_ROOT = "/api/"
SITE_ROOT = "/"


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def url_templates(patterns=None, prefix: str = "") -> set[str]:
    """Every route of the URLconf as a path template ("/api/chronos/{}/pause/")."""
    found = set()
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found |= url_templates(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and "format>" not in route:  # ".json" twins of the same endpoint
            found.add(re.sub(r"<[^>]+>", "{}", simplify_regex(route)))
    return found


def schema_templates(schema: dict) -> set[str]:
    return {re.sub(r"\{[^}]+\}", "{}", path) for path in schema["paths"]}


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_endpoint_in_the_urlconf_appears_in_the_schema(schema):
    endpoints = {t for t in url_templates() if not t.startswith(NOT_ENDPOINTS) and t not in (OWN_ROOT, SITE_ROOT)}
    missing = endpoints - schema_templates(schema)
    assert not missing, f"endpoints missing from the schema: {sorted(missing)}"


def test_the_url_walk_finds_the_endpoints_it_should(schema):
    # Guards the test above: an empty walk would make it pass vacuously.
    assert {"/api/chronos/{}/pause/", "/health/queues", "/metrics", "/hooks/{}"} <= url_templates()


def test_the_chrono_and_run_lists_document_their_filters(schema):
    def query(path: str) -> set[str]:
        return {p["name"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    assert {"target_type", "is_active", "channel", "search"} <= query("/api/chronos/")
    run_filters = {"chrono", "status", "trigger", "scheduled_after", "scheduled_before"}
    assert run_filters <= query("/api/runs/") and run_filters <= query("/api/chronos/{id}/runs/")


def test_enums_list_every_value(schema):
    components = schema["components"]["schemas"]
    assert set(components["RunStatusEnum"]["enum"]) == {"pending", "running", "success", "failed", "skipped", "timeout"}
    assert set(components["TargetTypeEnum"]["enum"]) == {"HTTP", "MESSAGE", "FUNCTION", "ASSISTANT", "ROUTINE", "CAMPAIGN"}


def test_every_operation_documents_its_errors(schema):
    undocumented = [f"{method.upper()} {path}" for path, item in schema["paths"].items()
                    for method, operation in item.items()
                    if method in ("get", "post", "put", "patch", "delete")
                    and not any(code.startswith(("4", "5")) for code in operation["responses"])]
    assert not undocumented


def test_bad_input_is_documented_as_errors_by_field(schema):
    create = schema["paths"]["/api/chronos/"]["post"]["responses"]["400"]
    assert create["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/FieldErrors"}


def test_trigger_is_documented_as_202_with_the_new_run(schema):
    trigger = schema["paths"]["/api/chronos/{id}/trigger/"]["post"]
    assert "requestBody" not in trigger
    assert trigger["responses"]["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChronoRun"}


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_documentation_pages_serve_their_assets_from_chronoflow_not_a_cdn(client, db, page):
    html = client.get(page).content.decode()
    assert "/static/drf_spectacular_sidecar/" in html and "cdn." not in html


# --- What the API really answers matches what the schema says it answers ---------------------

@pytest.fixture(scope="module")
def openapi(schema):
    from openapi_core import Config, OpenAPI

    return OpenAPI.from_dict(schema, config=Config(spec_validator_cls=None))


def assert_documented(openapi, response) -> None:
    """The response's status, content type and body are those the schema gives its operation."""
    from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse

    openapi.validate_response(DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response))


@pytest.mark.parametrize("path", ["/api/chronos/?page=0", "/api/channels/?page=0", "/api/functions/?page=9",
                                  "/api/messages/?page=x", "/api/runs/?page=0"])
def test_a_page_that_does_not_exist_is_a_documented_404(openapi, api, path):
    response = api.get(path)
    assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}
    assert_documented(openapi, response)


def test_a_body_that_is_not_json_is_a_documented_400(openapi, api):
    response = api.generic("POST", "/api/functions/", b"\x00", content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    assert_documented(openapi, response)


def test_errors_of_a_nested_object_are_a_documented_400(openapi, api):
    body = {"name": "n", "schedule": "manual", "url": "https://example.org/", "message_trigger": {"channel": -5}}
    response = api.post("/api/chronos/", body, format="json")
    assert response.status_code == 400 and "channel" in response.json()["message_trigger"]
    assert_documented(openapi, response)


def test_a_function_test_run_is_documented_as_its_run_report(openapi, api):
    from functions.models import UserFunction

    function = UserFunction.objects.create(name="echo", code="def run(ctx):\n    ctx.log('hi')\n    return ctx.input\n")
    response = api.post(f"/api/functions/{function.pk}/run/", {"input": {"x": 1}}, format="json")
    assert response.json()["ok"] is True and response.json()["return"] == {"x": 1}
    assert_documented(openapi, response)


def test_a_failed_function_test_run_is_documented_as_its_run_report(openapi, api):
    from functions.models import UserFunction

    function = UserFunction.objects.create(name="boom", code="def run(ctx):\n    return {}['missing']\n")
    response = api.post(f"/api/functions/{function.pk}/run/", {}, format="json")
    data = response.json()
    assert data["ok"] is False and data["error"]["type"] == "KeyError" and data["error_text"].startswith("KeyError")
    assert_documented(openapi, response)


def test_a_function_test_run_documents_its_input_not_a_function(schema):
    run = schema["paths"]["/api/functions/{id}/run/"]["post"]
    body = run["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/RunRequestRequest"}


def test_a_channel_history_is_documented_as_a_list_of_status_changes(openapi, api):
    from whatsapp.models import Channel

    channel = Channel.objects.create(name="Front", session_name="front", status=Channel.Status.WORKING)
    channel.status_changes.create(previous_status="STARTING", status="WORKING", source="webhook", at=timezone.now())
    response = api.get(f"/api/channels/{channel.pk}/history/")
    assert [change["status"] for change in response.json()] == ["WORKING"]
    assert_documented(openapi, response)


def test_a_channel_without_a_qr_to_scan_is_a_documented_409(openapi, api):
    from whatsapp.models import Channel

    channel = Channel.objects.create(name="Front", session_name="front", status=Channel.Status.WORKING)
    response = api.get(f"/api/channels/{channel.pk}/qr/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and response.json()["status"] == "WORKING"
    assert_documented(openapi, response)


@pytest.mark.parametrize("path", ["/api/channels/{id}/qr/", "/waha/sessions/{session}/auth/qr"])
def test_both_qr_routes_document_a_png_and_the_409(schema, path):
    responses = schema["paths"][path]["get"]["responses"]
    assert responses["200"]["content"]["image/png"]["schema"] == {"type": "string", "format": "binary"}
    assert responses["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NoQr"}


@pytest.mark.parametrize("action", ["start", "stop", "restart", "logout", "refresh"])
def test_a_session_action_documents_no_request_body(schema, action):
    assert "requestBody" not in schema["paths"][f"/api/channels/{{id}}/{action}/"]["post"]


def test_the_pairing_code_is_documented_as_the_code(schema):
    answer = schema["paths"]["/api/channels/{id}/pairing-code/"]["post"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PairingCodeResult"}


def test_the_original_systems_session_list_is_documented_as_a_list_of_sessions(openapi, api):
    from whatsapp.models import Channel

    Channel.objects.create(name="Front", session_name="front", status=Channel.Status.WORKING)
    response = api.get("/waha/sessions")
    assert [session["name"] for session in response.json()] == ["front"]
    assert_documented(openapi, response)


def test_an_empty_filter_value_is_documented_as_allowed(schema):
    # django-filter reads ?status= as no filter (the browsable API's filter form sends empty fields).
    parameters = {p["name"]: p for p in schema["paths"]["/api/runs/"]["get"]["parameters"]}
    assert parameters["scheduled_before"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in parameters["page_size"]


def test_a_bad_page_size_is_documented_as_a_400_on_every_list_that_takes_one(schema):
    for path in ("/api/chronos/", "/api/runs/", "/api/chronos/{id}/runs/"):
        assert "400" in schema["paths"][path]["get"]["responses"], path


def test_the_is_active_filter_is_documented_as_a_boolean(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/chronos/"]["get"]["parameters"]}
    assert parameters["is_active"]["schema"] == {"type": "boolean"}
