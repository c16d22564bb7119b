"""/api/functions/ and the FUNCTION chrono body of DESIGN.md §8 on /api/chronos/."""

import pytest
from django.contrib.auth.models import User

from automations.models import Chrono
from functions.models import UserFunction
from tests.api_client import token_client

CODE = "def run(ctx):\n    ctx.log('hi')\n    return ctx.input\n"
# DESIGN.md §8 "Cobrança atrasados", exactly as the original system's users post it.
SECTION_8_BODY = {
    "name": "Cobrança atrasados", "cron": "daily at 07:30", "targetType": "FUNCTION",
    "functionCode": "def run(ctx):\n    r = ctx.http.get('https://api.example.org/users?overdue=true')\n"
                    "    for u in r.json():\n"
                    "        ctx.message.send({'to': u['phone'], 'text': f\"Olá {u['name']}, sua fatura vence hoje\"})\n"
                    "    ctx.state.set('count', (ctx.state.get('count') or 0) + len(r.json()))\n"
                    "    ctx.log('enviados', len(r.json()))",
    "functionLimits": {"timeoutMs": 10000, "maxHttp": 5, "maxMessages": 50},
    "isActive": True,
}


def test_a_function_is_created_with_version_1_and_its_checksum(api):
    response = api.post("/api/functions/", {"name": "echo", "code": CODE}, format="json")
    assert response.status_code == 201
    assert response.json()["version"] == 1 and len(response.json()["checksum"]) == 64


def test_code_that_does_not_compile_is_a_400_naming_the_line(api):
    response = api.post("/api/functions/", {"name": "bad", "code": "def run(ctx):\n    return (\n"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"][0].startswith("Line 2")
    assert not UserFunction.objects.exists()


def test_changing_the_code_bumps_the_version(api):
    pk = api.post("/api/functions/", {"name": "echo", "code": CODE}, format="json").json()["id"]
    response = api.patch(f"/api/functions/{pk}/", {"code": CODE + "\n# v2\n"}, format="json")
    assert response.json()["version"] == 2


def test_camel_case_limit_names_are_accepted(api):
    body = {"name": "echo", "code": CODE, "timeoutMs": 2000, "maxHttp": 3, "maxMessages": 4, "maxMemoryMb": 128}
    data = api.post("/api/functions/", body, format="json").json()
    assert (data["timeout_ms"], data["max_http"], data["max_messages"], data["max_memory_mb"]) == (2000, 3, 4, 128)


def test_a_limit_out_of_range_is_a_400_naming_the_field(api):
    response = api.post("/api/functions/", {"name": "echo", "code": CODE, "max_memory_mb": 1}, format="json")
    assert response.status_code == 400 and "max_memory_mb" in response.json()


def test_a_test_run_returns_the_result_and_logs(api):
    pk = api.post("/api/functions/", {"name": "echo", "code": CODE}, format="json").json()["id"]
    data = api.post(f"/api/functions/{pk}/run/", {"input": {"x": 1}}, format="json").json()
    assert data["ok"] is True and data["return"] == {"x": 1} and data["logs"] == ["hi"]


def test_a_user_without_permissions_sees_no_functions(db):
    UserFunction.objects.create(name="echo", code=CODE)
    client = token_client(User.objects.create_user("viewer"))
    assert client.get("/api/functions/").status_code == 403


def test_the_section_8_body_creates_the_function_and_the_chrono_in_one_request(api):
    response = api.post("/api/chronos/", SECTION_8_BODY, format="json")
    assert response.status_code == 201, response.json()
    chrono = Chrono.objects.get(pk=response.json()["id"])
    function = chrono.function
    assert function.code == SECTION_8_BODY["functionCode"] and function.name == "Cobrança atrasados"
    assert (function.timeout_ms, function.max_http, function.max_messages) == (10000, 5, 50)
    assert chrono.target_type == "FUNCTION" and chrono.is_active


def test_a_section_8_body_with_bad_code_saves_neither_function_nor_chrono(api):
    body = {**SECTION_8_BODY, "functionCode": "def run(ctx):\n    return ctx.__dict__\n"}
    response = api.post("/api/chronos/", body, format="json")
    assert response.status_code == 400 and response.json()["function_code"][0].startswith("Line 2")
    assert not Chrono.objects.exists() and not UserFunction.objects.exists()


def test_a_section_8_body_with_a_bad_schedule_saves_no_function(api):
    response = api.post("/api/chronos/", {**SECTION_8_BODY, "cron": "whenever"}, format="json")
    assert response.status_code == 400 and "schedule" in response.json()
    assert not UserFunction.objects.exists()


def test_an_unknown_function_limit_is_a_400(api):
    body = {**SECTION_8_BODY, "functionLimits": {"maxCpu": 1}}
    response = api.post("/api/chronos/", body, format="json")
    assert response.status_code == 400 and "maxCpu" in response.json()["function_limits"][0]


def test_posting_new_function_code_for_a_chrono_updates_its_function(api):
    pk = api.post("/api/chronos/", SECTION_8_BODY, format="json").json()["id"]
    response = api.patch(f"/api/chronos/{pk}/", {"functionCode": CODE}, format="json")
    assert response.status_code == 200
    function = Chrono.objects.get(pk=pk).function
    assert function.code == CODE and function.version == 2
    assert UserFunction.objects.count() == 1
