"""POST /hooks/<token>: an integrator starts a chrono with its JSON as the run's input."""

import json
import time

import pytest
import responses
from django.test import Client

from automations.models import ChronoRun, Event, IntegratorHook
from tests.events.conftest import INTEGRATOR_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(make_chrono) -> IntegratorHook:
    return IntegratorHook.rotate_token(make_chrono(url=INTEGRATOR_URL))


def test_a_posted_json_body_starts_a_webhook_run_with_it_as_input(hook, post_hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = post_hook(hook, {"name": "Ana", "order": 42})

    assert response.status_code == 202
    run = ChronoRun.objects.get()
    assert response.json() == {"run_id": run.pk, "status": "pending"}
    assert (run.chrono, run.trigger, run.input) == (hook.chrono, "webhook", {"name": "Ana", "order": 42})
    assert len(enqueued) == 1  # sent to the workers once the run is committed


def test_an_empty_body_starts_a_run_with_empty_input(hook, post_hook):
    response = post_hook(hook, raw=b"")

    assert response.status_code == 202
    assert ChronoRun.objects.get().input == {}


def test_an_unknown_token_is_a_404_and_starts_nothing(hook, client):
    response = client.post("/hooks/not-a-token", data=b"{}", content_type="application/json")

    assert response.status_code == 404
    assert not ChronoRun.objects.exists()


def test_only_post_is_answered(hook, client):
    assert client.get(f"/hooks/{hook.token}").status_code == 405
    assert not ChronoRun.objects.exists()


def test_it_needs_no_csrf_token(hook):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(f"/hooks/{hook.token}", data=b'{"a": 1}', content_type="application/json")

    assert response.status_code == 202


def test_a_body_that_is_not_json_is_a_400_and_starts_nothing(hook, post_hook):
    response = post_hook(hook, raw=b"name=Ana")

    assert response.status_code == 400
    assert response.json() == {"error": "The body is not JSON."}
    assert not ChronoRun.objects.exists()


def test_a_body_over_the_size_cap_is_a_413_and_starts_nothing(hook, post_hook, settings):
    settings.HOOK_MAX_BODY_BYTES = 100

    response = post_hook(hook, {"text": "x" * 200})

    assert response.status_code == 413
    assert not ChronoRun.objects.exists()


def test_a_body_just_under_the_cap_is_accepted(hook, post_hook, settings):
    settings.HOOK_MAX_BODY_BYTES = 100
    body = json.dumps({"text": "x" * 80}).encode()
    assert len(body) <= 100

    assert post_hook(hook, raw=body).status_code == 202


def test_with_a_signing_key_an_unsigned_request_is_a_401_and_starts_nothing(hook, post_hook):
    IntegratorHook.rotate_signing_key(hook.chrono)

    response = post_hook(hook, {"name": "Ana"})

    assert response.status_code == 401
    assert "X-ChronoFlow-Signature" in response.json()["error"]
    assert not ChronoRun.objects.exists()


def test_with_a_signing_key_a_wrong_signature_is_a_401(hook, post_hook):
    IntegratorHook.rotate_signing_key(hook.chrono)

    response = post_hook(hook, {"name": "Ana"}, key="not-the-key")

    assert response.status_code == 401
    assert not ChronoRun.objects.exists()


def test_with_a_signing_key_a_signature_of_the_raw_body_is_accepted(hook, post_hook):
    key = IntegratorHook.rotate_signing_key(hook.chrono).signing_key
    # Odd spacing: the signature covers the bytes sent, not a re-serialisation of them.
    body = b'{ "name" :  "Ana" }'

    response = post_hook(hook, raw=body, key=key)

    assert response.status_code == 202
    assert ChronoRun.objects.get().input == {"name": "Ana"}


def test_a_bare_hex_signature_is_accepted_too(hook, client):
    from automations.events import hooks

    key = IntegratorHook.rotate_signing_key(hook.chrono).signing_key
    body = b'{"name": "Ana"}'

    response = client.post(f"/hooks/{hook.token}", data=body, content_type="application/json",
                           HTTP_X_CHRONOFLOW_SIGNATURE=hooks.sign(key, body).upper())

    assert response.status_code == 202


def test_a_paused_chrono_is_not_started(hook, post_hook):
    hook.chrono.pause()

    response = post_hook(hook, {"name": "Ana"})

    assert response.status_code == 409
    assert not ChronoRun.objects.exists()


def test_rotating_the_token_retires_the_old_url(hook, post_hook, client):
    old_token = hook.token

    IntegratorHook.rotate_token(hook.chrono)

    assert client.post(f"/hooks/{old_token}", data=b"{}", content_type="application/json").status_code == 404
    assert post_hook(IntegratorHook.objects.get(), {}).status_code == 202


@pytest.mark.django_db(transaction=True)  # the view's commit sends the run, here to an eager worker
def test_wait_answers_with_the_result_of_the_finished_run(hook, post_hook, celery_eager):
    with responses.RequestsMock() as rsps:
        rsps.post(INTEGRATOR_URL, status=200, json={"ok": True})
        response = post_hook(hook, {"name": "Ana"}, query="?wait=1")

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "success" and answer["http_status"] == 200 and answer["error"] is None
    assert answer["run_id"] == ChronoRun.objects.get().pk


def test_wait_answers_202_when_the_run_has_not_ended_in_time(hook, post_hook, settings):
    settings.HOOK_WAIT_SECONDS = 0  # no worker runs in this test: the run stays pending

    response = post_hook(hook, {"name": "Ana"}, query="?wait=1")

    assert response.status_code == 202
    assert response.json()["status"] == "pending"


def test_accepted_and_refused_requests_are_kept_in_the_event_log(hook, post_hook):
    post_hook(hook, {"name": "Ana"})
    post_hook(hook, raw=b"not json")

    refused, accepted = Event.objects.order_by("-pk")
    assert (accepted.source, accepted.outcome, accepted.chrono) == ("hook", "triggered", hook.chrono)
    assert accepted.payload == {"name": "Ana"}
    assert accepted.run_ids == [ChronoRun.objects.get().pk]
    assert (refused.outcome, refused.run_ids) == ("refused", [])
    assert "not JSON" in refused.detail


def test_the_hook_url_is_built_from_the_public_base_url(hook, settings):
    settings.PUBLIC_BASE_URL = "https://flow.example.org"

    assert hook.url == f"https://flow.example.org/hooks/{hook.token}"


# --- Timestamped signatures, replays, chunked bodies (issue 13.6) -------------------------------------


def stamped(key: str, body: bytes, at: int | None = None) -> str:
    from automations.events import hooks

    at = int(time.time()) if at is None else at
    return f"t={at},v1={hooks.sign(key, f'{at}.'.encode() + body)}"


def test_a_timestamped_signature_is_accepted(hook, client):
    key = IntegratorHook.rotate_signing_key(hook.chrono).signing_key
    body = b'{"name": "Ana"}'

    response = client.post(f"/hooks/{hook.token}", data=body, content_type="application/json",
                           HTTP_X_CHRONOFLOW_SIGNATURE=stamped(key, body))

    assert response.status_code == 202
    assert ChronoRun.objects.get().input == {"name": "Ana"}


def test_a_replayed_timestamped_request_is_refused_and_starts_nothing_more(hook, client):
    key = IntegratorHook.rotate_signing_key(hook.chrono).signing_key
    body = b'{"name": "Ana"}'
    header = stamped(key, body)

    answers = [client.post(f"/hooks/{hook.token}", data=body, content_type="application/json",
                           HTTP_X_CHRONOFLOW_SIGNATURE=header).status_code for _ in range(3)]

    assert answers == [202, 409, 409]
    assert ChronoRun.objects.count() == 1


def test_a_timestamp_outside_the_tolerance_window_is_a_401(hook, client, settings):
    settings.HOOK_SIGNATURE_TOLERANCE_S = 300
    key = IntegratorHook.rotate_signing_key(hook.chrono).signing_key
    body = b'{"name": "Ana"}'
    old, future = int(time.time()) - 301, int(time.time()) + 301

    answers = [client.post(f"/hooks/{hook.token}", data=body, content_type="application/json",
                           HTTP_X_CHRONOFLOW_SIGNATURE=stamped(key, body, at)) for at in (old, future)]

    assert [a.status_code for a in answers] == [401, 401]
    assert "tolerance" in answers[0].json()["error"]
    assert not ChronoRun.objects.exists()


def test_a_timestamped_signature_does_not_cover_another_timestamp(hook, client):
    key = IntegratorHook.rotate_signing_key(hook.chrono).signing_key
    body = b'{"name": "Ana"}'
    now = int(time.time())
    forged = stamped(key, body, now - 10).replace(f"t={now - 10}", f"t={now}")

    response = client.post(f"/hooks/{hook.token}", data=body, content_type="application/json",
                           HTTP_X_CHRONOFLOW_SIGNATURE=forged)

    assert response.status_code == 401
    assert not ChronoRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_without_content_length_is_a_411_not_a_run_with_empty_input(make_chrono, live_server):
    import http.client
    from urllib.parse import urlsplit

    hook = IntegratorHook.rotate_token(make_chrono())
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("POST", f"/hooks/{hook.token}", body=iter([b'{"name": ', b'"Ana"}']),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()

    assert response.status == 411
    assert "Content-Length" in json.loads(response.read())["error"]
    assert not ChronoRun.objects.exists()
