import pytest

from automations.models import Chrono


@pytest.fixture
def make_chrono(db):
    """Create an HTTP chrono; keyword arguments override the defaults."""

    def make(**fields) -> Chrono:
        defaults = {"name": "Ping", "schedule": "0 8 * * *", "timezone": "America/Sao_Paulo",
                    "target_type": "HTTP", "url": "http://127.0.0.1:9/hook", "method": "POST"}
        return Chrono.objects.create(**{**defaults, **fields})

    return make
