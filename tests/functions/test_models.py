"""UserFunction: compiled on save, versioned, checksummed, state kept."""

import hashlib

import pytest
from django.core.exceptions import ValidationError

from functions.models import UserFunction

pytestmark = pytest.mark.django_db

GOOD = "def run(ctx):\n    return 1\n"


def errors_of(**fields) -> dict:
    with pytest.raises(ValidationError) as refused:
        UserFunction(name="f", **fields).full_clean()
    return refused.value.message_dict


def test_a_syntax_error_is_refused_with_its_line_number():
    assert errors_of(code="def run(ctx):\n    return (1 +\n")["code"][0].startswith("Line 2")


def test_a_restricted_construct_is_refused_with_its_line_number():
    messages = errors_of(code="def run(ctx):\n    x = 1\n    return ctx.__class__\n")["code"]
    assert any(m.startswith("Line 3") and "__class__" in m for m in messages)


def test_code_without_a_run_function_is_refused():
    assert "def run(ctx)" in errors_of(code="def main(ctx):\n    return 1\n")["code"][0]


def test_a_run_function_with_two_required_arguments_is_refused():
    assert "exactly one argument" in errors_of(code="def run(ctx, other):\n    return 1\n")["code"][0]


def test_limits_out_of_range_are_refused_per_field():
    errors = errors_of(code=GOOD, max_memory_mb=16, timeout_ms=10)
    assert set(errors) == {"max_memory_mb", "timeout_ms"}


def test_state_must_be_a_json_object():
    assert "JSON object" in errors_of(code=GOOD, state=[1, 2])["state"][0]


def test_the_checksum_is_the_sha256_of_the_code():
    function = UserFunction.objects.create(name="f", code=GOOD)
    assert function.checksum == hashlib.sha256(GOOD.encode()).hexdigest() and function.version == 1


def test_the_version_goes_up_when_the_code_changes_and_only_then():
    function = UserFunction.objects.create(name="f", code=GOOD)
    function.timeout_ms = 5000
    function.save()
    assert function.version == 1
    function.code = "def run(ctx):\n    return 2\n"
    function.save(update_fields=["code"])
    function.refresh_from_db()
    assert function.version == 2 and function.checksum == hashlib.sha256(function.code.encode()).hexdigest()


def test_state_changes_merge_with_keys_another_run_saved_meanwhile():
    function = UserFunction.objects.create(name="f", code=GOOD, state={"a": 1})
    UserFunction.objects.filter(pk=function.pk).update(state={"a": 1, "b": 2})
    function.apply_state_changes({"a": 5})
    function.refresh_from_db()
    assert function.state == {"a": 5, "b": 2}
