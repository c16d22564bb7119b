"""The admin of assistants: pages open, the key is never rendered, an empty key box keeps it."""

import pytest

from assistants.models import Assistant

pytestmark = pytest.mark.django_db


def test_the_change_page_never_shows_the_api_key(admin_client, assistant):
    page = admin_client.get(f"/admin/assistants/assistant/{assistant.pk}/change/")

    assert page.status_code == 200
    assert assistant.api_key not in page.content.decode()


@pytest.mark.parametrize("url", ["/admin/assistants/assistant/", "/admin/assistants/assistant/add/",
                                 "/admin/assistants/assistantpause/", "/admin/assistants/assistantusage/"])
def test_the_admin_pages_open(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_saving_with_the_key_box_empty_keeps_the_key(admin_client, assistant):
    stored = assistant.api_key
    data = {"name": assistant.name, "system_prompt": "Novo prompt", "model": assistant.model,
            "base_url": assistant.base_url, "api_key": "", "timeout_ms": 2000, "temperature": 0.3, "max_tokens": 500,
            "daily_token_budget": 10000, "history_length": 10, "max_tool_rounds": 4, "pause_minutes": 240,
            "handover_text": "Já chamo alguém.",
            "assistant_tools-TOTAL_FORMS": 0, "assistant_tools-INITIAL_FORMS": 0}

    response = admin_client.post(f"/admin/assistants/assistant/{assistant.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assistant.refresh_from_db()
    assert (assistant.system_prompt, assistant.api_key) == ("Novo prompt", stored)
