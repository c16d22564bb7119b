"""ctx.http against a real local server on an allowlisted port."""

import pytest

from tests.localserver import Reply, closed_port


def test_a_get_returns_status_headers_text_and_json(run_code, allowed_host):
    allowed_host.reply("/users", body=[{"name": "Ana"}], headers={"X-Total": "1"})
    code = (f"def run(ctx):\n    r = ctx.http.get({allowed_host.url('/users')!r}, params={{'overdue': 'true'}})\n"
            "    return [r.status_code, r.ok, r.headers['X-Total'], r.json()[0]['name'], len(r.text)]\n")
    report = run_code(code)
    assert report.value == [200, True, "1", "Ana", len('[{"name": "Ana"}]')]
    assert allowed_host.requests[0].path == "/users?overdue=true"


def test_a_post_sends_its_json_body_and_headers(run_code, allowed_host):
    allowed_host.reply("/hook", status=201, body={"id": 7})
    code = (f"def run(ctx):\n    r = ctx.http.post({allowed_host.url('/hook')!r}, json={{'a': 1}},"
            " headers={'Authorization': 'Bearer ' + ctx.env['token']})\n    return r.json()['id']\n")
    report = run_code(code, env={"token": "t0k3n"})
    assert report.value == 7
    assert allowed_host.requests[0].json() == {"a": 1}
    assert allowed_host.requests[0].headers["authorization"] == "Bearer t0k3n"


def test_request_headers_and_env_values_are_not_recorded_in_the_run(run_code, allowed_host):
    allowed_host.reply("/hook", body={})
    code = (f"def run(ctx):\n    ctx.http.put({allowed_host.url('/hook')!r}, data='x',"
            " headers={'Authorization': ctx.env['token']})\n")
    report = run_code(code, env={"token": "very-secret-token"})
    assert report.ok and "very-secret-token" not in str(report.as_result())


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_each_http_verb_is_available(method, run_code, allowed_host):
    allowed_host.reply("/item", status=204)
    report = run_code(f"def run(ctx):\n    return ctx.http.{method}({allowed_host.url('/item')!r}).status_code\n")
    assert report.value == 204
    assert allowed_host.requests[0].method == method.upper()


def test_a_redirect_within_the_allowed_host_is_followed(run_code, allowed_host):
    allowed_host.reply("/old", redirect="/new")
    allowed_host.reply("/new", body="here")
    report = run_code(f"def run(ctx):\n    return ctx.http.get({allowed_host.url('/old')!r}).text\n")
    assert report.value == "here"
    assert report.http_calls == 2  # requests, not calls: the redirect hop counts (issue 13, item 5)


def test_a_303_after_a_post_is_followed_with_a_get(run_code, allowed_host):
    allowed_host.reply("/form", status=303, redirect="/done")
    allowed_host.reply("/done", body="ok")
    run_code(f"def run(ctx):\n    return ctx.http.post({allowed_host.url('/form')!r}, json={{'a': 1}}).text\n")
    assert [r.method for r in allowed_host.requests] == ["POST", "GET"]
    assert allowed_host.requests[1].body == b""


def test_a_response_over_the_size_cap_raises_an_error_the_code_can_handle(run_code, allowed_host, settings):
    settings.FUNCTION_MAX_HTTP_RESPONSE_BYTES = 2048
    allowed_host.reply("/big", body="x" * 100_000)
    code = (f"def run(ctx):\n    try:\n        ctx.http.get({allowed_host.url('/big')!r})\n"
            "    except HttpError as e:\n        return 'handled: ' + str(e)\n")
    report = run_code(code)
    assert report.ok and "2048 bytes" in report.value


def test_a_refused_connection_raises_an_error_the_code_can_handle(run_code, settings):
    port = closed_port()
    settings.FUNCTION_HTTP_ALLOWLIST = [f"127.0.0.1:{port}"]
    code = (f"def run(ctx):\n    try:\n        ctx.http.get('http://127.0.0.1:{port}/')\n"
            "    except HttpError:\n        return 'down'\n")
    assert run_code(code).value == "down"


def test_a_slow_host_cannot_hold_the_run_past_its_timeout(run_code, allowed_host):
    allowed_host.replies("/slow", [Reply(body="late", delay=5)])
    report = run_code(f"def run(ctx):\n    return ctx.http.get({allowed_host.url('/slow')!r}).text\n", timeout_ms=500)
    assert not report.ok and report.duration_ms < 2000


def test_an_unknown_keyword_is_a_type_error_in_the_users_code(run_code, allowed_host):
    report = run_code(f"def run(ctx):\n    ctx.http.get({allowed_host.url('/')!r}, verify=False)\n")
    assert report.error["type"] == "TypeError" and allowed_host.requests == []
