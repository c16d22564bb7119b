"""Fixtures shared by every test app. Keep each group in its own clearly named section."""

import pytest
from django.utils import translation

from automations.models import Chrono
from chronoflow.celery import app as celery_app
from tests.api_client import token_client
from tests.localserver import LocalServer


# --- Language ------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_language_left_active():
    """Each test starts in the default language (LANGUAGE_CODE). A request through the test
    client leaves LocaleMiddleware's choice (pt-BR from Accept-Language or the user's profile)
    active in the thread, as commands and other tests would then see it."""
    yield
    translation.deactivate()


# --- Local HTTP server (tests/localserver.py) -------------------------------------------

@pytest.fixture
def local_server():
    """A real HTTP server on 127.0.0.1 and a free port, stopped after the test."""
    with LocalServer() as server:
        yield server


# --- Celery in-process -------------------------------------------------------------------

@pytest.fixture
def celery_eager():
    """Tasks enqueued (after commit) run at once, in this process."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


# --- Chronos ------------------------------------------------------------------------------

CHRONO_DEFAULTS = {"name": "Ping", "schedule": "0 8 * * *", "timezone": "America/Sao_Paulo",
                   "target_type": "HTTP", "url": "http://127.0.0.1:9/hook", "method": "POST"}


@pytest.fixture
def make_chrono(db):
    """Create a chrono: an HTTP POST every day at 08:00 in São Paulo (to a closed port) unless
    keyword arguments say otherwise. The one chrono factory of the suite."""

    def make(**fields) -> Chrono:
        return Chrono.objects.create(**{**CHRONO_DEFAULTS, **fields})

    return make


# --- API client ----------------------------------------------------------------------------

@pytest.fixture
def api(admin_user):
    """The API as the admin user, with a token."""
    return token_client(admin_user)
