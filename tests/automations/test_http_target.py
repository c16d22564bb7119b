"""The HTTP target (automations/targets/http.py), alone and through execution.execute()."""

import json
import time
from datetime import datetime, timezone
from email.utils import formatdate

import pytest
import responses

from automations import tasks
from automations.models import Chrono, ChronoRun
from automations.runs import execution
from automations.targets import http as target
from tests.localserver import Reply, closed_port

URL = "https://hooks.example.org/hook"
WHEN = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)


def http_chrono(**fields) -> Chrono:
    """An unsaved HTTP chrono: the target reads its fields and needs no database."""
    defaults = {"pk": 7, "name": "Ping", "target_type": "HTTP", "method": "POST", "url": URL,
                "headers": {}, "payload": {"hello": "world"}}
    return Chrono(**{**defaults, **fields})


def run_of(chrono: Chrono, pk: int = 41, scheduled_for: datetime = WHEN) -> ChronoRun:
    return ChronoRun(pk=pk, chrono=chrono, scheduled_for=scheduled_for, attempt=1)


def fire(chrono: Chrono, run: ChronoRun | None = None):
    return target.run(chrono, run or run_of(chrono), {"attempt": 1})


# --- Status mapping ---------------------------------------------------------------------


@responses.activate
def test_a_200_is_a_success_with_status_snippet_and_a_small_result():
    responses.post(URL, json={"received": True})
    outcome = fire(http_chrono())
    assert (outcome.ok, outcome.http_status, outcome.response_snippet, outcome.error) == (
        True, 200, '{"received": true}', "")
    assert set(outcome.result) == {"method", "url", "status", "elapsed_ms"}
    assert (outcome.result["method"], outcome.result["url"], outcome.result["status"]) == ("POST", URL, 200)


@responses.activate
def test_a_redirect_is_a_success_and_is_not_followed():
    responses.post(URL, status=302, headers={"Location": "https://elsewhere.example/"})
    elsewhere = responses.get("https://elsewhere.example/")
    outcome = fire(http_chrono())
    assert (outcome.ok, outcome.http_status) == (True, 302)
    assert elsewhere.call_count == 0


@responses.activate
def test_a_500_fails_retryably_with_the_status_and_the_start_of_the_body():
    responses.post(URL, status=500, body="E" * 500)
    outcome = fire(http_chrono())
    assert (outcome.ok, outcome.retryable, outcome.http_status) == (False, True, 500)
    assert outcome.error == "HTTP 500: " + "E" * 200


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
@responses.activate
def test_statuses_that_may_pass_later_are_retryable(status):
    responses.post(URL, status=status)
    outcome = fire(http_chrono())
    assert not outcome.ok and outcome.retryable and outcome.error.startswith(f"HTTP {status}")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 422])
@responses.activate
def test_other_client_errors_are_permanent(status):
    responses.post(URL, status=status)
    outcome = fire(http_chrono())
    assert not outcome.ok and not outcome.retryable and outcome.http_status == status


@responses.activate
def test_the_snippet_keeps_the_first_1000_characters_of_the_body():
    responses.post(URL, body="a" * 1000 + "b" * 500)
    assert fire(http_chrono()).response_snippet == "a" * 1000


# --- Request: method, headers, payload, idempotency ---------------------------------------


@responses.activate
def test_a_method_outside_allowed_methods_is_refused_permanently_without_a_request(settings):
    settings.ALLOWED_METHODS = ["GET", "POST"]
    call = responses.delete(URL)
    outcome = fire(http_chrono(method="DELETE"))
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "'DELETE' is not allowed" in outcome.error and "GET, POST" in outcome.error
    assert call.call_count == 0


def test_a_chrono_without_a_url_fails_permanently():
    outcome = fire(http_chrono(url=""))
    assert (outcome.ok, outcome.retryable, outcome.error) == (False, False, "An HTTP chrono needs a url.")


def test_headers_that_are_not_an_object_fail_permanently_naming_the_headers():
    outcome = fire(http_chrono(headers=["Authorization: x"]))
    assert (outcome.ok, outcome.retryable) == (False, False) and "headers" in outcome.error


@responses.activate
def test_it_sends_the_chronos_method_headers_and_json_payload():
    call = responses.put(URL)
    fire(http_chrono(method="put", headers={"Authorization": "Bearer s3cret", "X-Source": "cf"},
                     payload={"n": [1, 2]}))
    sent = call.calls[0].request
    assert (sent.headers["Authorization"], sent.headers["X-Source"]) == ("Bearer s3cret", "cf")
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"n": [1, 2]}


@responses.activate
def test_without_a_payload_no_body_and_no_content_type_are_sent():
    call = responses.get(URL)
    fire(http_chrono(method="GET", payload=None))
    sent = call.calls[0].request
    assert sent.body is None and "Content-Type" not in sent.headers


@responses.activate
def test_an_operators_own_content_type_is_kept():
    call = responses.post(URL)
    fire(http_chrono(headers={"content-type": "application/vnd.api+json"}))
    assert call.calls[0].request.headers["Content-Type"] == "application/vnd.api+json"


@responses.activate
def test_the_idempotency_key_is_the_same_on_every_attempt_at_one_run():
    call = responses.post(URL, status=503)
    chrono = http_chrono()
    fire(chrono, run_of(chrono, pk=41))
    fire(chrono, run_of(chrono, pk=41))
    first, second = (c.request.headers["Idempotency-Key"] for c in call.calls)
    assert first == second and len(first) == 36


@responses.activate
def test_the_idempotency_key_differs_between_runs():
    call = responses.post(URL)
    chrono = http_chrono()
    fire(chrono, run_of(chrono, pk=41))
    fire(chrono, run_of(chrono, pk=42, scheduled_for=WHEN.replace(hour=9)))
    first, second = (c.request.headers["Idempotency-Key"] for c in call.calls)
    assert first != second


@responses.activate
def test_an_operators_fixed_idempotency_key_is_replaced_by_the_runs_own():
    call = responses.post(URL)
    chrono = http_chrono(headers={"Idempotency-Key": "copied-from-an-example"})
    fire(chrono)
    assert call.calls[0].request.headers["Idempotency-Key"] == target.idempotency_key(run_of(chrono))


@responses.activate
def test_the_result_holds_no_request_headers_nor_the_urls_query():
    responses.post(URL)
    chrono = http_chrono(url=URL + "?token=q-secret", headers={"Authorization": "Bearer h-secret"})
    outcome = fire(chrono)
    stored = json.dumps([outcome.result, outcome.error, outcome.response_snippet])
    assert "h-secret" not in stored and "q-secret" not in stored
    assert outcome.result["url"] == URL + "?…"


# --- Retry-After ------------------------------------------------------------------------


@responses.activate
def test_retry_after_seconds_on_a_429_is_passed_on():
    responses.post(URL, status=429, headers={"Retry-After": "120"})
    assert fire(http_chrono()).retry_after == 120.0


@responses.activate
def test_retry_after_as_a_date_on_a_503_is_passed_on_as_seconds():
    in_a_minute = datetime.now(timezone.utc).timestamp() + 60
    responses.post(URL, status=503, headers={"Retry-After": formatdate(in_a_minute, usegmt=True)})
    assert 55 <= fire(http_chrono()).retry_after <= 60


@responses.activate
def test_a_very_long_retry_after_is_capped_at_five_minutes():
    responses.post(URL, status=429, headers={"Retry-After": "86400"})
    assert fire(http_chrono()).retry_after == 300.0


@responses.activate
def test_retry_after_on_a_500_is_ignored():
    responses.post(URL, status=500, headers={"Retry-After": "60"})
    assert fire(http_chrono()).retry_after is None


# --- The network itself (a real server on 127.0.0.1) --------------------------------------


def test_a_slow_receiver_times_out_after_the_chronos_timeout(local_server):
    local_server.reply("/hook", delay=5)
    outcome = fire(http_chrono(url=local_server.url("/hook"), timeout_ms=200))
    assert (outcome.ok, outcome.retryable, outcome.timed_out, outcome.error) == (False, True, True, "Timed out after 200 ms")
    assert outcome.http_status is None


def test_a_receiver_trickling_its_answer_times_out_at_the_chronos_timeout(local_server):
    local_server.reply("/hook", body="x" * 60, trickle=0.3)  # 18 s in all, one byte at a time
    started = time.monotonic()
    outcome = fire(http_chrono(url=local_server.url("/hook"), timeout_ms=500))
    assert (outcome.ok, outcome.retryable, outcome.timed_out) == (False, True, True)
    assert time.monotonic() - started < 0.5 + 2


def test_the_reaper_gives_an_http_attempt_its_timeout_and_no_more():
    assert target.deadline_s(http_chrono(timeout_ms=1500)) == 1.5


def test_without_its_own_timeout_a_chrono_uses_the_setting(local_server, settings):
    settings.HTTP_REQUEST_TIMEOUT_MS = 300
    local_server.reply("/hook", delay=5)
    assert fire(http_chrono(url=local_server.url("/hook"))).error == "Timed out after 300 ms"


def test_a_closed_port_is_a_retryable_connection_refused():
    port = closed_port()
    outcome = fire(http_chrono(url=f"http://127.0.0.1:{port}/hook"))
    assert (outcome.ok, outcome.retryable, outcome.error) == (False, True, f"Connection refused to 127.0.0.1:{port}")


def test_a_non_http_url_fails_permanently():
    outcome = fire(http_chrono(url="ftp://files.example.org/drop"))
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "Only http and https" in outcome.error


def test_a_large_response_is_read_only_up_to_the_cap(local_server, settings):
    settings.HTTP_MAX_RESPONSE_BYTES = 4096
    local_server.reply("/hook", body=b"x" * 500_000)
    outcome = fire(http_chrono(url=local_server.url("/hook")))
    assert outcome.ok and outcome.response_snippet == "x" * 1000
    assert outcome.result["response_truncated"] is True


# --- End to end through execution.execute() ---------------------------------------------


@pytest.fixture
def hook_chrono(db, local_server):
    def make(**fields) -> Chrono:
        defaults = {"name": "Webhook teste", "schedule": "every 1 minute", "target_type": "HTTP",
                    "method": "POST", "url": local_server.url("/hook"), "payload": {"hello": "world"},
                    "backoff_ms": 1000}
        return Chrono.objects.create(**{**defaults, **fields})

    return make


def test_a_200_ends_as_a_success_run_and_the_receiver_got_the_payload_once(hook_chrono, local_server):
    local_server.reply("/hook", body={"ok": True})
    chrono = hook_chrono()
    assert execution.execute(chrono.pk, WHEN, None, None, 0) == ChronoRun.Status.SUCCESS
    run = ChronoRun.objects.get(chrono=chrono)
    assert (run.status, run.http_status, run.response_snippet, run.attempt) == ("success", 200, '{"ok": true}', 1)
    assert [r.json() for r in local_server.requests_to("/hook")] == [{"hello": "world"}]
    chrono.refresh_from_db()
    assert (chrono.last_run_status, chrono.last_error) == ("success", "")


def test_a_receiver_that_never_answers_ends_as_a_timeout_run(hook_chrono, local_server):
    local_server.reply("/hook", delay=5)
    chrono = hook_chrono(max_attempts=1, timeout_ms=200)
    assert execution.execute(chrono.pk, WHEN, None, None, 0) == ChronoRun.Status.TIMEOUT
    run = ChronoRun.objects.get(chrono=chrono)
    assert (run.status, run.error_message) == ("timeout", "Timed out after 200 ms")
    chrono.refresh_from_db()
    assert (chrono.last_run_status, chrono.last_error) == ("timeout", "Timed out after 200 ms")


def test_a_500_with_one_attempt_allowed_ends_failed_with_the_error_on_run_and_chrono(hook_chrono, local_server):
    local_server.reply("/hook", status=500, body="database down")
    chrono = hook_chrono(max_attempts=1)
    assert execution.execute(chrono.pk, WHEN, None, None, 0) == ChronoRun.Status.FAILED
    run = ChronoRun.objects.get(chrono=chrono)
    assert (run.status, run.http_status, run.error_message) == ("failed", 500, "HTTP 500: database down")
    chrono.refresh_from_db()
    assert (chrono.last_run_status, chrono.last_error) == ("failed", "HTTP 500: database down")


def test_a_500_with_attempts_left_stays_pending_and_schedules_a_retry(
    hook_chrono, local_server, django_capture_on_commit_callbacks, monkeypatch
):
    local_server.reply("/hook", status=500, body="database down")
    chrono = hook_chrono(max_attempts=3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert execution.execute(chrono.pk, WHEN, None, None, 0) == "retrying"
    run = ChronoRun.objects.get(chrono=chrono)
    assert (run.status, run.attempt) == ("pending", 1)
    assert [(a["attempt"], a["ok"], a["http_status"], a["error"]) for a in run.attempts] == [
        (1, False, 500, "HTTP 500: database down")]
    assert "retrying in 1" in run.error_message  # 1 s backoff plus up to 50 % jitter
    # The retry is enqueued once the transaction commits; record it instead of sending it.
    sent = []
    monkeypatch.setattr(tasks.run_chrono, "apply_async", lambda **kw: sent.append(kw))
    assert len(callbacks) == 1
    callbacks[0]()
    assert [s["kwargs"] for s in sent] == [{"chrono_id": chrono.pk, "run_id": run.pk, "attempt": 1}]
    assert 1.0 <= sent[0]["countdown"] <= 1.5


def test_a_duplicate_delivery_of_the_same_attempt_does_not_call_the_receiver_twice(hook_chrono, local_server):
    local_server.reply("/hook", body="ok")
    chrono = hook_chrono()
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=WHEN, trigger=ChronoRun.Trigger.MANUAL)
    assert execution.execute(chrono.pk, None, None, run.pk, 0) == ChronoRun.Status.SUCCESS
    assert execution.execute(chrono.pk, None, None, run.pk, 0) == "duplicate"
    assert len(local_server.requests_to("/hook")) == 1


def test_a_retried_run_that_then_succeeds_sent_the_same_idempotency_key_both_times(
    hook_chrono, local_server, django_capture_on_commit_callbacks
):
    local_server.replies("/hook", [Reply(status=503), Reply(status=200, body="ok")])
    chrono = hook_chrono(max_attempts=3)
    with django_capture_on_commit_callbacks(execute=False):
        execution.execute(chrono.pk, WHEN, None, None, 0)
    run = ChronoRun.objects.get(chrono=chrono)
    assert execution.execute(chrono.pk, None, None, run.pk, 1) == ChronoRun.Status.SUCCESS
    run.refresh_from_db()
    assert (run.status, run.attempt, [a["ok"] for a in run.attempts]) == ("success", 2, [False, True])
    keys = {r.headers["idempotency-key"] for r in local_server.requests_to("/hook")}
    assert len(local_server.requests_to("/hook")) == 2 and len(keys) == 1
