"""/api/campaigns/ actions: start, pause, resume, cancel, retry-failed, preview, the ledger; bad input
is a 400 naming the field, an action that does not fit the status a 400 saying why, never a 500."""

import pytest

from campaigns.models import Campaign


@pytest.fixture
def draft(api, channel, make_contacts):
    make_contacts(4)
    response = api.post("/api/campaigns/", {"name": "Natal", "channel": channel.pk,
                                            "message": "{Olá|Oi} {{ contact.first_name }}!"}, format="json")
    assert response.status_code == 201, response.json()
    return Campaign.objects.get(pk=response.json()["id"])


def act(api, campaign, action):
    return api.post(f"/api/campaigns/{campaign.pk}/{action}/")


def test_pause_keeps_the_rows_queued_resume_sends_them_and_cancel_after_ends_nothing_sent(
        api, draft, waha, celery_eager, django_capture_on_commit_callbacks, fast_outbox):
    with django_capture_on_commit_callbacks(execute=False):  # the sends' tasks not run yet
        assert act(api, draft, "start").json() == {"status": "running", "count": 4}
    assert act(api, draft, "pause").json()["status"] == "paused"
    assert waha.sent == []

    with django_capture_on_commit_callbacks(execute=True):
        assert act(api, draft, "resume").json()["status"] == "running"
    assert len(waha.sent) == 4
    body = api.get(f"/api/campaigns/{draft.pk}/").json()
    assert body["counts"]["sent"] == 4 and body["progress"] == {"total": 4, "finished": 4, "percent": 100.0}


def test_cancel_ends_the_queued_rows_cancelled_and_nothing_is_sent(
        api, draft, waha, celery_eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        act(api, draft, "start")
    response = act(api, draft, "cancel")

    assert response.json() == {"status": "cancelled", "count": 4}
    with django_capture_on_commit_callbacks(execute=True):
        again = act(api, draft, "resume")
    assert waha.sent == []
    assert again.status_code == 400 and "cancelled" in again.json()["status"][0]


@pytest.mark.parametrize("action", ["start", "resume", "pause", "cancel", "retry-failed"])
def test_an_action_on_a_cancelled_campaign_is_a_400_on_status_never_a_500(api, draft, action):
    Campaign.objects.filter(pk=draft.pk).update(status="cancelled")

    response = act(api, draft, action)

    assert response.status_code == 400
    assert "The campaign is cancelled" in response.json()["status"][0]


def test_retry_failed_queues_exactly_the_failed_again(api, draft, waha, celery_eager,
                                                      django_capture_on_commit_callbacks, fast_outbox):
    waha.fail("POST", "/api/sendText", status=500, times=1)
    with django_capture_on_commit_callbacks(execute=True):
        act(api, draft, "start")
    assert api.get(f"/api/campaigns/{draft.pk}/").json()["counts"]["failed"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = act(api, draft, "retry-failed")

    assert response.json()["count"] == 1 and len(waha.sent) == 4
    failed = api.get(f"/api/campaigns/{draft.pk}/recipients/?state=failed").json()
    assert failed["count"] == 0


def test_preview_renders_the_first_n_and_counts_the_suppressed_without_sending(api, draft, waha):
    first = draft.audience().first()
    first.opted_out = True
    first.save()

    response = api.get(f"/api/campaigns/{draft.pk}/preview/?first=2")

    body = response.json()
    assert (body["total"], body["would_send"], body["suppressed"], len(body["samples"])) == (4, 3, 1, 2)
    assert body["samples"][0]["text"] in ("Olá Pessoa!", "Oi Pessoa!")
    assert waha.requests == [] and not draft.recipients.exists()
    assert body["attachment"] is None


def test_the_preview_names_the_attachment(api, draft):
    draft.attachment_kind, draft.attachment_url = "document", "https://files.example.org/docs/tabela.pdf"
    draft.save()

    body = api.get(f"/api/campaigns/{draft.pk}/preview/", HTTP_ACCEPT_LANGUAGE="pt-br").json()

    assert body["attachment"] == {"kind": "document", "kind_display": "Documento", "filename": "tabela.pdf"}


@pytest.mark.parametrize(("url", "field"), [
    ("preview/?first=0", "first"),
    ("preview/?first=lots", "first"),
    ("recipients/?state=lost", "state"),
])
def test_bad_query_parameters_are_a_400_naming_them(api, draft, url, field):
    response = api.get(f"/api/campaigns/{draft.pk}/{url}")

    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize(("body", "field"), [
    ({"message": "Oi {% if contact.name %}amigo"}, "message"),
    ({"channel": 9999}, "channel"),
    ({"send_at": "amanhã"}, "send_at"),
    ({"name": ""}, "name"),
])
def test_a_bad_campaign_is_a_400_naming_the_field_and_nothing_is_saved(api, channel, body, field):
    response = api.post("/api/campaigns/", {"name": "X", "channel": channel.pk, "message": "Oi", **body},
                        format="json")

    assert response.status_code == 400 and field in response.json()
    assert not Campaign.objects.exists()


def test_a_started_campaign_cannot_be_edited(api, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        act(api, draft, "start")

    response = api.patch(f"/api/campaigns/{draft.pk}/", {"message": "Outra"}, format="json")

    assert response.status_code == 400 and "status" in response.json()
    draft.refresh_from_db()
    assert draft.message.startswith("{Olá|Oi}")


def test_the_ledger_exports_as_csv(api, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        act(api, draft, "start")

    response = api.get(f"/api/campaigns/{draft.pk}/recipients/?format=csv")

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response["Content-Type"].startswith("text/csv") and len(lines) == 5 and lines[0].startswith("contact_id,")
