"""chronoflow/http.py: the one door for outbound HTTP.

Unit tests fake the other side with `responses`; the network tests (timeouts, refused
connections, redirects, large bodies) talk to a real server on 127.0.0.1.
"""

import base64
import socket
import threading
import time
from datetime import datetime, timezone

import pytest
import responses

from chronoflow import http
from chronoflow.http import CONNECT_RETRY_DELAY_S
from tests.localserver import LocalServer, Reply, closed_port

# --- Unit tests (responses) -------------------------------------------------------------


@responses.activate
def test_a_response_comes_back_with_its_status_body_headers_and_final_url():
    responses.get("https://api.example.org/users", json=[{"id": 1}], headers={"X-Total": "1"})
    response = http.send("GET", "https://api.example.org/users", timeout_s=5)
    assert (response.status, response.json(), response.headers["x-total"]) == (200, [{"id": 1}], "1")
    assert response.url == "https://api.example.org/users"
    assert not response.truncated and response.elapsed_ms >= 0


@responses.activate
def test_a_server_error_is_returned_as_a_response_not_raised():
    responses.post("https://api.example.org/hook", status=500, body="boom")
    response = http.send("POST", "https://api.example.org/hook", timeout_s=5)
    assert (response.status, response.text, response.ok) == (500, "boom", False)


@responses.activate
def test_it_sends_the_json_body_headers_and_query_it_was_given():
    call = responses.post("https://api.example.org/hook")
    http.send("post", "https://api.example.org/hook", json={"hello": "wörld"}, params={"page": "2"},
              headers={"X-Api-Key": "k"}, timeout_s=5)
    sent = call.calls[0].request
    assert sent.method == "POST" and sent.url == "https://api.example.org/hook?page=2"
    assert sent.headers["X-Api-Key"] == "k" and sent.headers["Content-Type"] == "application/json"
    assert sent.body == b'{"hello": "w\\u00f6rld"}'


@responses.activate
def test_a_text_body_without_a_charset_is_read_as_utf8():
    responses.get("https://api.example.org/", body="olá".encode(), content_type="text/plain")
    assert http.send("GET", "https://api.example.org/", timeout_s=5).text == "olá"


@responses.activate
def test_raise_for_status_makes_a_404_permanent():
    responses.get("https://api.example.org/x", status=404, body="no such thing")
    with pytest.raises(http.HttpError) as raised:
        http.send("GET", "https://api.example.org/x", timeout_s=5).raise_for_status()
    assert (raised.value.permanent, raised.value.status, str(raised.value)) == (True, 404, "HTTP 404: no such thing")


@responses.activate
def test_raise_for_status_makes_a_503_retryable_with_the_servers_retry_after():
    responses.get("https://api.example.org/x", status=503, headers={"Retry-After": "30"})
    with pytest.raises(http.HttpError) as raised:
        http.send("GET", "https://api.example.org/x", timeout_s=5).raise_for_status()
    assert (raised.value.permanent, raised.value.status, raised.value.retry_after) == (False, 503, 30.0)


@pytest.mark.parametrize("url", ["ftp://example.org/file", "file:///etc/passwd", "gopher://example.org/", "example.org/x"])
def test_it_refuses_urls_that_are_not_http_or_https(url):
    with pytest.raises(http.HttpError, match="Only http and https URLs are allowed") as raised:
        http.send("GET", url, timeout_s=5)
    assert raised.value.permanent


@responses.activate
def test_a_host_refused_by_the_policy_is_never_called():
    call = responses.get("https://internal.example/")
    with pytest.raises(http.HttpError, match="Host 'internal.example' is not allowed") as raised:
        http.send("GET", "https://internal.example/", timeout_s=5, allow_host=lambda host: host != "internal.example")
    assert raised.value.permanent and call.call_count == 0


@responses.activate
def test_a_truncated_body_is_not_parsed_as_json():
    responses.get("https://api.example.org/big", json={"items": list(range(2000))})
    response = http.send("GET", "https://api.example.org/big", timeout_s=5, max_bytes=100)
    assert response.truncated and len(response.text) == 100
    with pytest.raises(http.HttpError, match="cut at the size limit"):
        response.json()


def test_retry_after_in_seconds_is_read_as_a_delay():
    assert http.parse_retry_after("120") == 120.0


def test_retry_after_as_an_http_date_is_read_as_the_time_until_then():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert http.parse_retry_after("Sun, 01 Mar 2026 12:01:30 GMT", now=now) == 90.0


def test_retry_after_in_the_past_means_no_wait():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert http.parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-", "nan"])
def test_retry_after_that_cannot_be_read_is_ignored(value):
    assert http.parse_retry_after(value) is None


# --- Network tests (a real server on 127.0.0.1) -----------------------------------------


def test_a_server_slower_than_the_timeout_is_given_up_on_in_time(local_server):
    local_server.reply("/slow", delay=5)
    started = time.monotonic()
    with pytest.raises(http.HttpError, match="^Timed out after 300 ms$") as raised:
        http.send("GET", local_server.url("/slow"), timeout_s=0.3)
    assert not raised.value.permanent
    assert time.monotonic() - started < 2


def test_a_timed_out_request_is_not_sent_again_by_connection_retries(local_server):
    local_server.reply("/slow", delay=5)
    with pytest.raises(http.HttpError, match="Timed out"):
        http.send("POST", local_server.url("/slow"), json={"n": 1}, timeout_s=0.3, retries=3)
    assert len(local_server.requests_to("/slow")) == 1


def test_a_server_trickling_its_body_cannot_hold_the_call_past_the_deadline(local_server):
    # One byte every 0.3 s never trips a per-read timeout; the whole body would take 18 s.
    local_server.reply("/drip", body="x" * 60, trickle=0.3)
    started = time.monotonic()
    with pytest.raises(http.HttpError, match="^Timed out after 1000 ms$") as raised:
        http.send("GET", local_server.url("/drip"), timeout_s=1)
    assert raised.value.timed_out and not raised.value.permanent
    assert time.monotonic() - started < 1 + 1


def test_a_server_trickling_its_headers_cannot_hold_the_call_past_the_deadline(trickling_headers):
    started = time.monotonic()
    with pytest.raises(http.HttpError, match="^Timed out after 1000 ms$"):
        http.send("GET", f"http://127.0.0.1:{trickling_headers}/", timeout_s=1)
    assert time.monotonic() - started < 1 + 1


@pytest.fixture
def trickling_headers():
    """A raw server on 127.0.0.1 that sends its status line and headers one byte every 0.2 s."""
    stopping = threading.Event()
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def serve():
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: " + b"p" * 100:
                if stopping.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up: what the test wants

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stopping.set()
    thread.join(timeout=2)
    server.close()


def test_a_closed_port_is_a_retryable_connection_refused_naming_host_and_port():
    port = closed_port()
    with pytest.raises(http.HttpError) as raised:
        http.send("GET", f"http://127.0.0.1:{port}/hook?token=secret", timeout_s=2)
    assert str(raised.value) == f"Connection refused to 127.0.0.1:{port}"
    assert not raised.value.permanent


def test_connection_retries_give_up_with_the_connection_error_within_the_deadline():
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(http.HttpError, match="Connection refused"):
        http.send("GET", f"http://127.0.0.1:{port}/", timeout_s=0.5, retries=10)
    assert time.monotonic() - started < 1


def test_connection_retries_reach_a_server_that_starts_listening_meanwhile():
    late = LocalServer(port=closed_port())
    late.reply("/hook", body="up")
    timer = threading.Timer(0.1, late.start)
    timer.start()
    try:
        response = http.send("GET", late.url("/hook"), timeout_s=3, retries=4)
    finally:
        timer.join()
        late.stop()
    assert response.text == "up"


def test_without_connection_retries_a_refused_connection_fails_at_once(settings):
    settings.HTTP_MAX_RETRIES = 0
    started = time.monotonic()
    with pytest.raises(http.HttpError, match="Connection refused"):
        http.send("GET", f"http://127.0.0.1:{closed_port()}/", timeout_s=3)
    assert time.monotonic() - started < CONNECT_RETRY_DELAY_S


def test_a_tls_failure_is_permanent_and_says_what_went_wrong(local_server):
    local_server.reply("/", body="plain http here")
    with pytest.raises(http.HttpError, match=f"^TLS error talking to 127.0.0.1:{local_server.port}: ") as raised:
        http.send("GET", f"https://127.0.0.1:{local_server.port}/", timeout_s=2)
    assert raised.value.permanent


def test_redirects_are_followed_to_the_final_response(local_server):
    local_server.reply("/old", redirect="/middle")
    local_server.reply("/middle", status=301, redirect=local_server.url("/new"))
    local_server.reply("/new", body="here")
    response = http.send("GET", local_server.url("/old"), timeout_s=2)
    assert (response.status, response.text, response.url) == (200, "here", local_server.url("/new"))


def test_a_redirect_loop_stops_at_the_cap_with_a_permanent_error(local_server):
    local_server.reply("/loop", redirect="/loop")
    with pytest.raises(http.HttpError, match=r"Too many redirects \(more than 3\)") as raised:
        http.send("GET", local_server.url("/loop"), timeout_s=2, max_redirects=3)
    assert raised.value.permanent
    assert len(local_server.requests_to("/loop")) == 4


def test_without_follow_redirects_the_redirect_itself_is_returned(local_server):
    local_server.reply("/old", redirect="/new")
    response = http.send("GET", local_server.url("/old"), timeout_s=2, follow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/new")
    assert local_server.requests_to("/new") == []


def test_a_redirect_to_a_non_http_scheme_is_refused(local_server):
    local_server.reply("/old", redirect="file:///etc/passwd")
    with pytest.raises(http.HttpError, match="not 'file'") as raised:
        http.send("GET", local_server.url("/old"), timeout_s=2)
    assert raised.value.permanent


def test_the_host_policy_is_asked_again_on_every_redirect_hop(local_server):
    local_server.reply("/old", redirect=f"http://localhost:{local_server.port}/inside")
    local_server.reply("/inside", body="secret")
    asked = []

    def allow(host: str) -> bool:
        asked.append(host)
        return host == "127.0.0.1"

    with pytest.raises(http.HttpError, match="Host 'localhost' is not allowed"):
        http.send("GET", local_server.url("/old"), timeout_s=2, allow_host=allow)
    assert asked == ["127.0.0.1", "localhost"]
    assert local_server.requests_to("/inside") == []


def test_a_303_turns_a_post_into_a_get_without_the_body(local_server):
    local_server.reply("/form", status=303, redirect="/done")
    local_server.reply("/done", body="ok")
    http.send("POST", local_server.url("/form"), json={"a": 1}, timeout_s=2)
    done = local_server.requests_to("/done")[0]
    assert (done.method, done.body, "content-type" in done.headers) == ("GET", b"", False)


def test_a_307_repeats_the_post_with_its_body(local_server):
    local_server.reply("/form", status=307, redirect="/again")
    local_server.reply("/again", body="ok")
    http.send("POST", local_server.url("/form"), json={"a": 1}, timeout_s=2)
    again = local_server.requests_to("/again")[0]
    assert (again.method, again.json()) == ("POST", {"a": 1})


def test_credentials_are_not_carried_to_another_origin(local_server):
    local_server.reply("/old", redirect=f"http://localhost:{local_server.port}/elsewhere")
    local_server.reply("/elsewhere", body="ok")
    http.send("GET", local_server.url("/old"), headers={"Authorization": "Bearer t", "X-Trace": "1"}, timeout_s=2)
    elsewhere = local_server.requests_to("/elsewhere")[0]
    assert "authorization" not in elsewhere.headers and elsewhere.headers["x-trace"] == "1"


def test_credentials_are_kept_on_a_redirect_within_the_origin(local_server):
    local_server.reply("/old", redirect="/new")
    local_server.reply("/new", body="ok")
    http.send("GET", local_server.url("/old"), headers={"Authorization": "Bearer t"}, timeout_s=2)
    assert local_server.requests_to("/new")[0].headers["authorization"] == "Bearer t"


def test_a_body_over_the_size_cap_is_cut_and_flagged(local_server):
    local_server.reply("/big", body=b"x" * 3_000_000)
    response = http.send("GET", local_server.url("/big"), timeout_s=5, max_bytes=64_000)
    assert response.status == 200 and response.truncated
    assert response.text == "x" * 64_000


def test_the_size_cap_defaults_to_the_setting(local_server, settings):
    settings.HTTP_MAX_RESPONSE_BYTES = 2048
    local_server.reply("/big", body=b"y" * 10_000)
    response = http.send("GET", local_server.url("/big"), timeout_s=5)
    assert response.truncated and len(response.text) == 2048


def test_a_body_within_the_cap_is_whole(local_server):
    local_server.reply("/small", body=b"z" * 2048)
    response = http.send("GET", local_server.url("/small"), timeout_s=5, max_bytes=2048)
    assert not response.truncated and len(response.text) == 2048


def test_a_server_error_is_an_answer_that_connection_retries_do_not_repeat(local_server):
    local_server.replies("/flaky", [Reply(status=500), Reply(status=200)])
    response = http.send("GET", local_server.url("/flaky"), timeout_s=2, retries=3)
    assert response.status == 500 and len(local_server.requests_to("/flaky")) == 1


def test_a_request_carries_what_a_requests_session_would_add(local_server):
    local_server.reply("/hook", body="ok")
    http.send("POST", local_server.url("/hook").replace("://", "://ana:segredo@"), json={"a": 1}, timeout_s=2)
    sent = local_server.requests_to("/hook")[0].headers
    assert (sent["user-agent"], sent["accept"], sent["connection"]) == ("ChronoFlow", "*/*", "keep-alive")
    assert "gzip" in sent["accept-encoding"]
    assert sent["authorization"] == "Basic " + base64.b64encode(b"ana:segredo").decode()


def test_a_cookie_set_by_a_redirect_goes_with_the_next_hop_of_the_same_call(local_server):
    local_server.reply("/login", redirect="/home", headers={"Set-Cookie": "session=abc; Path=/"})
    local_server.reply("/home", body="ok")
    http.send("GET", local_server.url("/login"), timeout_s=2)
    assert local_server.requests_to("/home")[0].headers["cookie"] == "session=abc"
    http.send("GET", local_server.url("/home"), timeout_s=2)  # a new call starts with no cookies
    assert "cookie" not in local_server.requests_to("/home")[1].headers
