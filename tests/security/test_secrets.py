"""Point 9: secrets are write-only. Masked in API responses and admin pages, kept when
the mask is sent back, and kept out of run results and log lines."""

import io
import logging

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from automations.models import Chrono, ChronoRun
from automations.runs import execution
from chronoflow.secrets import MASK, RedactingFilter
from tests.automations.test_admin import page_form_data
from tests.security.conftest import SECRET


@pytest.fixture
def staff_api(db):
    client = APIClient()
    client.force_authenticate(User.objects.create_user("staff", is_staff=True, is_superuser=True))
    return client


def test_the_api_shows_secret_headers_masked_and_others_as_they_are(cast, staff_api):
    detail = staff_api.get(f"/api/chronos/{cast['chrono'].pk}/")
    assert detail.json()["headers"] == {"Authorization": MASK, "X-Trace": "visible"}
    assert "s3cr3t" not in detail.content.decode() and "s3cr3t" not in staff_api.get("/api/chronos/").content.decode()


def test_sending_the_mask_back_keeps_the_stored_secret_and_a_new_value_replaces_it(cast, staff_api):
    url = f"/api/chronos/{cast['chrono'].pk}/"
    body = staff_api.get(url).json()
    assert staff_api.put(url, {**body, "name": "renamed"}, format="json").status_code == 200
    chrono = Chrono.objects.get(pk=cast["chrono"].pk)
    assert (chrono.name, chrono.headers["Authorization"]) == ("renamed", SECRET)
    staff_api.patch(url, {"headers": {"Authorization": "Bearer new-one", "X-Trace": "visible"}}, format="json")
    assert Chrono.objects.get(pk=chrono.pk).headers["Authorization"] == "Bearer new-one"


def test_the_admin_change_page_masks_the_secret_and_saving_it_unchanged_keeps_it(cast, admin_client):
    url = f"/admin/automations/chrono/{cast['chrono'].pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "s3cr3t" not in page.content.decode() and MASK in page.content.decode()
    response = admin_client.post(url, {**page_form_data(page), "name": "edited in the admin"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    chrono = Chrono.objects.get(pk=cast["chrono"].pk)
    assert (chrono.name, chrono.headers["Authorization"]) == ("edited in the admin", SECRET)


def test_a_server_echoing_the_secret_does_not_put_it_in_the_run(cast, local_server, staff_api):
    local_server.reply("/echo", status=500, body=f"you sent Authorization: {SECRET}")
    chrono = cast["chrono"]
    Chrono.objects.filter(pk=chrono.pk).update(url=local_server.url("/echo"), max_attempts=1)
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=chrono.created_at, trigger="manual")
    execution.execute(chrono.pk, None, None, run.pk, 0)
    run.refresh_from_db()
    assert local_server.requests_to("/echo")[0].headers["authorization"] == SECRET  # it was sent
    stored = f"{run.error_message} {run.response_snippet} {run.result} {run.attempts}"
    assert "s3cr3t" not in stored and MASK in run.response_snippet
    assert "s3cr3t" not in staff_api.get(f"/api/runs/{run.pk}/").content.decode()
    chrono.refresh_from_db()
    assert "s3cr3t" not in chrono.last_error


def test_channels_never_show_their_webhook_token_or_hmac_key(cast, staff_api, admin_client):
    channel = cast["channel"]
    api = staff_api.get(f"/api/channels/{channel.pk}/").content.decode()
    admin = admin_client.get(f"/admin/whatsapp/channel/{channel.pk}/change/").content.decode()
    for secret in (channel.webhook_token, channel.hmac_key):
        assert secret not in api and secret not in admin


def test_every_configured_log_handler_redacts_known_secrets_and_inline_credentials(settings):
    settings.WAHA_API_KEY = "waha-key-123456"
    assert all("redact_secrets" in handler.get("filters", []) for handler in settings.LOGGING["handlers"].values())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.security.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("calling WAHA with %s", "X-Api-Key: waha-key-123456")
        logger.warning("upstream said Authorization: Bearer abcdef.123")
        logger.warning("Unauthorized: %s", "/whatsapp/webhooks/chan-token-42?x=1")
        logger.warning("Not Found: /hooks/hook-token-43")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue()
    assert "waha-key-123456" not in lines and "abcdef.123" not in lines and lines.count(MASK) == 4
    assert "chan-token-42" not in lines and "hook-token-43" not in lines
