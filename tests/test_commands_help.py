"""``manage.py <command> --help`` works for every ChronoFlow command, in English and Portuguese."""

import contextlib
import io

import pytest
from django.core.management import ManagementUtility, get_commands
from django.utils import translation

PROJECT_APPS = {"accounts", "assistants", "automations", "campaigns", "chronoflow", "contacts", "functions", "whatsapp"}
OUR_COMMANDS = sorted(name for name, app in get_commands().items() if app in PROJECT_APPS)


def help_of(command: str, language: str) -> str:
    out = io.StringIO()
    with translation.override(language), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit:
        ManagementUtility(["manage.py", command, "--help"]).execute()
    assert exit.value.code == 0, f"{command} --help exited {exit.value.code}"
    return out.getvalue()


def test_the_project_has_its_commands():
    assert {"chrono", "import_contacts", "simulate_message", "waha", "install_template"} <= set(OUR_COMMANDS)


@pytest.mark.parametrize("command", OUR_COMMANDS)
def test_help_prints_usage_in_both_languages(command):
    for language in ("en", "pt-br"):
        assert f"usage: manage.py {command}" in help_of(command, language)


def test_help_speaks_the_operators_language():
    assert "Import contacts from a CSV file" in help_of("import_contacts", "en")
    assert "Importa contatos de um arquivo CSV" in help_of("import_contacts", "pt-br")
