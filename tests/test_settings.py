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
])
def test_a_wrong_value_stops_start_up_naming_the_variable(name, value):
    result = start_django(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


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
         "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | {"DATA_DIR": str(settings.DATA_DIR)},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]
