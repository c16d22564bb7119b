"""/api/schema/: a valid OpenAPI 3 document of every endpoint, with its filters, enums and errors."""

import re

import pytest
from django.contrib.admindocs.views import simplify_regex
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

# Pages for people, not endpoints of the API: the admin, DRF's login pages, the API's
# browsable root, and the schema and its documentation pages themselves.
NOT_ENDPOINTS = ("/admin/", "/api-auth/", "/api/schema/", "/api/docs/", "/api/redoc/")
OWN_ROOT = "/api/"


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
    endpoints = {t for t in url_templates() if not t.startswith(NOT_ENDPOINTS) and t != OWN_ROOT}
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
    assert set(components["TargetTypeEnum"]["enum"]) == {"HTTP", "MESSAGE", "FUNCTION", "ASSISTANT"}


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
