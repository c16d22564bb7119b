"""manage.py run_function <name> [--input JSON]."""

import json

import pytest
from django.core.management import CommandError, call_command

from functions.models import UserFunction


@pytest.fixture
def echo(db):
    return UserFunction.objects.create(name="echo", code="def run(ctx):\n    ctx.log('got', ctx.input)\n    return ctx.input\n")


def test_it_prints_the_logs_and_the_result(echo, capsys):
    call_command("run_function", "echo", "--input", '{"a": 1}')
    out = capsys.readouterr().out
    assert "log: got {'a': 1}" in out
    assert json.loads(out[out.index("\n{") :])["return"] == {"a": 1}


def test_an_unknown_name_is_an_error(db):
    with pytest.raises(CommandError, match="No function named 'nope'"):
        call_command("run_function", "nope")


def test_input_that_is_not_json_is_an_error(echo):
    with pytest.raises(CommandError, match="--input is not JSON"):
        call_command("run_function", "echo", "--input", "{nope")


def test_a_failing_function_exits_with_its_error(db):
    UserFunction.objects.create(name="boom", code="def run(ctx):\n    raise ValueError('no')\n")
    with pytest.raises(CommandError, match="ValueError: no"):
        call_command("run_function", "boom")
