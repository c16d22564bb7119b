"""Point 13: property-based fuzzing of every API endpoint that takes input, with bounded
examples (hypothesis, max_examples per endpoint): whatever the body or query, no 500."""

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from rest_framework.test import APIClient

from automations.models import Chrono
from functions.models import UserFunction
from tests.localserver import closed_port

EXAMPLES = 100
FUZZ = hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=40), st.sampled_from(["", "0", "-1", "HTTP", "MESSAGE", "FUNCTION", "every 1 minute",
                                                           "in 10 min", "0 8 * * *", "UTC", "Not/AZone", "POST",
                                                           "http://example.org/", "javascript:alert(1)", "1e999"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
CHRONO_FIELDS = ["name", "description", "schedule", "cron", "timezone", "target_type", "targetType", "method", "url",
                 "headers", "payload", "timeout_ms", "channel", "channelId", "message_template", "recipients",
                 "function", "functionCode", "functionLimits", "extras", "is_active", "max_attempts", "backoff_ms",
                 "misfire_policy", "catchup_window_s", "overlap_policy"]
FUNCTION_FIELDS = ["name", "code", "timeout_ms", "max_http", "max_messages", "max_memory_mb", "state", "env",
                   "fallback_channel"]
CHANNEL_FIELDS = ["name", "session_name", "should_run", "start"]


def bodies(fields: list[str]):
    return st.one_of(st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)), json_values)


queries = st.dictionaries(st.sampled_from(["status", "trigger", "chrono", "page", "page_size", "ordering", "search",
                                           "scheduled_after", "scheduled_before", "target_type", "is_active", "format"]),
                          st.text(max_size=20), max_size=4)


@pytest.fixture
def api(db, settings, monkeypatch):
    from django.contrib.auth.models import User
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "1000000/minute")
    settings.WAHA_BASE_URL = f"http://127.0.0.1:{closed_port()}"  # channel creation fails fast, as WAHA down would
    from django.core.cache import cache

    user = User.objects.create_user("fuzz", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    yield client
    cache.delete(f"throttle_user_{user.pk}")  # hundreds of requests must not count against a later test's user


def no_500(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])


def test_chronos_never_answer_500_to_any_body(api):
    chrono = Chrono.objects.create(name="fuzzed", schedule="every 5 minutes", timezone="UTC", url="http://example.org/")

    @FUZZ
    @given(body=bodies(CHRONO_FIELDS), method=st.sampled_from(["post", "put", "patch"]))
    def check(body, method):
        url = "/api/chronos/" if method == "post" else f"/api/chronos/{chrono.pk}/"
        no_500(getattr(api, method)(url, body, format="json"))

    check()


def test_functions_never_answer_500_to_any_body(api):
    function = UserFunction.objects.create(name="fuzzed", code="def run(ctx):\n    return 1\n")

    @FUZZ
    @given(body=bodies(FUNCTION_FIELDS), method=st.sampled_from(["post", "patch"]))
    def check(body, method):
        url = "/api/functions/" if method == "post" else f"/api/functions/{function.pk}/"
        no_500(getattr(api, method)(url, body, format="json"))

    check()


def test_channels_never_answer_500_to_any_body(api):
    @FUZZ
    @given(body=bodies(CHANNEL_FIELDS))
    def check(body):
        no_500(api.post("/api/channels/", body, format="json"))

    check()


def test_lists_never_answer_500_to_any_query(api):
    @FUZZ
    @given(path=st.sampled_from(["/api/chronos/", "/api/runs/", "/api/channels/", "/api/messages/", "/api/functions/"]),
           query=queries)
    def check(path, query):
        no_500(api.get(path, query))

    check()


def test_malformed_json_and_odd_content_types_are_4xx(api):
    @FUZZ
    @given(raw=st.one_of(st.binary(max_size=200), st.sampled_from([b'{"name": NaN}', b'{"payload": Infinity}', b"[1,",
                                                                   b'{"headers": {"a": 1}}', b'"just a string"'])),
           content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]))
    def check(raw, content_type):
        no_500(api.generic("POST", "/api/chronos/", raw, content_type=content_type))

    check()
