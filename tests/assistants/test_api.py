"""/api/assistants/: create with tools, the key write-only, bad input refused on its field."""

import pytest

from assistants.models import Assistant
from chronoflow.secrets import MASK
from tests.assistants.conftest import AGENDAR_SCHEMA

pytestmark = pytest.mark.django_db

BODY = {"name": "Recepção", "system_prompt": "Você é a recepção.", "model": "gpt-4o-mini",
        "base_url": "https://api.openai.com/v1", "api_key": "sk-secret-value-123"}


def test_it_creates_an_assistant_with_a_tool(api, agendar):
    body = {**BODY, "tools": [{"function": agendar.pk, "description": "Agenda.", "parameters": AGENDAR_SCHEMA}]}

    response = api.post("/api/assistants/", body, format="json")

    assert response.status_code == 201, response.json()
    tool = Assistant.objects.get().assistant_tools.get()
    assert (tool.function, tool.tool_name, tool.parameters) == (agendar, "agendar", AGENDAR_SCHEMA)


def test_the_api_key_is_write_only(api):
    created = api.post("/api/assistants/", BODY, format="json").json()

    shown = api.get(f"/api/assistants/{created['id']}/").json()

    assert created["api_key"] == shown["api_key"] == MASK
    assert "sk-secret-value-123" not in api.get("/api/assistants/").content.decode()


def test_sending_the_mask_back_keeps_the_stored_key(api):
    created = api.post("/api/assistants/", BODY, format="json").json()

    response = api.put(f"/api/assistants/{created['id']}/", {**created, "model": "gpt-4o"}, format="json")

    assert response.status_code == 200, response.json()
    assert Assistant.objects.get().api_key == "sk-secret-value-123"


def test_a_schema_that_is_not_an_object_schema_is_refused_on_its_field(api, agendar):
    body = {**BODY, "tools": [{"function": agendar.pk, "description": "Agenda.", "parameters": {"type": "string"}}]}

    response = api.post("/api/assistants/", body, format="json")

    assert response.status_code == 400
    assert "parameters" in response.json()["tools"]["0"]


def test_a_tool_named_escalate_is_refused(api, agendar):
    body = {**BODY, "tools": [{"function": agendar.pk, "name": "escalate", "description": "x"}]}

    response = api.post("/api/assistants/", body, format="json")

    assert response.status_code == 400 and "name" in response.json()["tools"]["0"]


def test_a_temperature_out_of_range_is_refused_on_its_field(api):
    response = api.post("/api/assistants/", {**BODY, "temperature": 5}, format="json")

    assert response.status_code == 400 and "temperature" in response.json()


def test_an_assistant_chrono_needs_an_assistant(api):
    response = api.post("/api/chronos/", {"name": "Atendimento", "schedule": "manual", "target_type": "ASSISTANT"},
                        format="json")

    assert response.status_code == 400 and "assistant" in response.json()


def test_an_assistant_chrono_is_created_through_the_api(api, assistant):
    response = api.post("/api/chronos/", {"name": "Atendimento", "schedule": "manual", "target_type": "ASSISTANT",
                                          "assistant": assistant.pk}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["assistant"] == assistant.pk


def test_deleting_an_assistant_a_chrono_uses_is_refused_with_409_naming_the_chrono(api, assistant_chrono, assistant):
    response = api.delete(f"/api/assistants/{assistant.pk}/")

    assert response.status_code == 409
    assert "Atendimento" in response.json()["detail"]
    assert Assistant.objects.filter(pk=assistant.pk).exists()


def test_a_default_responder_is_created_through_the_api_with_no_pattern(api, assistant, channel):
    response = api.post("/api/chronos/", {"name": "Recepção padrão", "schedule": "manual", "target_type": "ASSISTANT",
                                          "assistant": assistant.pk, "overlap_policy": "allow",
                                          "message_trigger": {"channel": channel.pk, "match": "fallback"}},
                        format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["message_trigger"]["match"] == "fallback"


def test_a_keyword_trigger_without_a_pattern_is_refused_on_its_field(api, assistant, channel):
    response = api.post("/api/chronos/", {"name": "Menu", "schedule": "manual", "target_type": "ASSISTANT",
                                          "assistant": assistant.pk,
                                          "message_trigger": {"channel": channel.pk, "match": "exact"}},
                        format="json")

    assert response.status_code == 400 and "pattern" in response.json()["message_trigger"]
