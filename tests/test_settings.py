"""A wrong value in the environment stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest
from django.conf import settings


def start_django(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DATA_DIR": str(settings.DATA_DIR), **env},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("name, value", [
    ("DEBUG", "maybe"),
    ("RUN_MAX_ATTEMPTS", "three"),
    ("RUN_MAX_ATTEMPTS", "0"),
    ("HTTP_REQUEST_TIMEOUT_MS", "-5"),
    ("PORT", "eighty"),
    ("DEFAULT_TIMEZONE", "Mars/Olympus"),
    ("DATABASE_URL", "mysql-ish://nowhere"),
    ("REDIS_URL", "http://127.0.0.1:6379"),
    ("WAHA_BASE_URL", "localhost:3000"),
    ("ALLOWED_METHODS", "GET,FETCH"),
    ("WHATSAPP_MEDIA_MAX_BYTES", "16MB"),
    ("DATABASE_SERVER_SIDE_BINDING", "sometimes"),
])
def test_a_wrong_value_stops_start_up_naming_the_variable(name, value):
    result = start_django(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_media_storage_options_that_are_not_a_json_object_stop_start_up():
    result = start_django(WHATSAPP_MEDIA_STORAGE="django.core.files.storage.FileSystemStorage",
                          WHATSAPP_MEDIA_STORAGE_OPTIONS='["location"]')
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "WHATSAPP_MEDIA_STORAGE_OPTIONS" in result.stderr


def test_a_lost_send_deadline_shorter_than_a_waha_call_stops_start_up():
    # A send still waiting for WAHA's answer would be taken for lost (and marked unconfirmed).
    result = start_django(WAHA_TIMEOUT_MS="15000", WAHA_SEND_LOST_AFTER_S="10")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "WAHA_SEND_LOST_AFTER_S" in result.stderr


def test_a_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret-from-file\n")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.WAHA_API_KEY)"],
        env={**os.environ, "DATA_DIR": str(settings.DATA_DIR), "WAHA_API_KEY_FILE": str(secret)},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.strip() == "s3cret-from-file"


def test_the_defaults_are_sqlite_and_the_filesystem_broker(monkeypatch):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
         "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS['polling_interval'])"],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | {"DATA_DIR": str(settings.DATA_DIR)},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )
    # A task sent while the queue was empty is taken within 0.1 s, not kombu's default second.
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://localhost/", "0.1"]


# --- System checks (manage.py check): settings that depend on the machine or on each other ----

@pytest.mark.parametrize("value, bound", [(None, True), ("false", False)])
def test_postgresql_binds_parameters_on_the_server_unless_turned_off(value, bound):
    env = {**os.environ, "DATA_DIR": str(settings.DATA_DIR), "DATABASE_URL": "postgres://u@127.0.0.1:5432/x"}
    env.pop("DATABASE_SERVER_SIDE_BINDING", None)
    if value is not None:
        env["DATABASE_SERVER_SIDE_BINDING"] = value
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.DATABASES['default'].get('OPTIONS', {}).get('server_side_binding', False))"],
        env=env, cwd=settings.BASE_DIR,
        capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == str(bound), result.stderr


def test_the_check_names_a_sandbox_user_this_machine_does_not_have(settings):
    from functions.checks import sandbox_user_exists

    settings.FUNCTION_SANDBOX_USER = "no-such-user-here"
    [error] = sandbox_user_exists(None)
    assert error.id == "functions.E001" and "no-such-user-here" in error.msg


def test_an_existing_sandbox_user_passes_the_check(settings):
    from functions.checks import sandbox_user_exists

    settings.FUNCTION_SANDBOX_USER = "nobody"
    assert sandbox_user_exists(None) == []


def test_the_check_warns_when_a_remote_waha_is_told_to_call_localhost(settings):
    from whatsapp.checks import waha_can_reach_us

    settings.WAHA_BASE_URL, settings.PUBLIC_BASE_URL = "http://waha:3000", "http://localhost:8000"
    [warning] = waha_can_reach_us(None)
    assert warning.id == "whatsapp.W001" and "PUBLIC_BASE_URL" in warning.msg


@pytest.mark.parametrize("waha, public", [("http://localhost:3000", "http://localhost:8000"),
                                          ("http://waha:3000", "http://web:8000")])
def test_addresses_waha_can_reach_pass_the_check(settings, waha, public):
    from whatsapp.checks import waha_can_reach_us

    settings.WAHA_BASE_URL, settings.PUBLIC_BASE_URL = waha, public
    assert waha_can_reach_us(None) == []


def test_manage_py_check_fails_on_a_missing_sandbox_user():
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, capture_output=True,
                            text=True, timeout=120,
                            env={**os.environ, "DATA_DIR": str(settings.DATA_DIR), "FUNCTION_SANDBOX_USER": "no-such-user"})
    assert result.returncode != 0 and "functions.E001" in result.stderr


# --- .env ------------------------------------------------------------------------------------

def test_a_dot_env_file_is_read_and_its_bad_value_named(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# from .env.example\nexport PORT='eighty'\n")
    result = start_django(ENV_FILE=str(env_file))
    assert result.returncode != 0 and "PORT" in result.stderr


def test_the_real_environment_wins_over_the_dot_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=eighty\n")
    assert start_django(ENV_FILE=str(env_file), PORT="8123").returncode == 0


def test_a_line_that_is_not_name_equals_value_is_refused_with_its_line_number(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=8000\nthis is not a setting\n")
    result = start_django(ENV_FILE=str(env_file))
    assert result.returncode != 0 and "line 2" in result.stderr
