"""Fixtures shared by every test app. Keep each group in its own clearly named section."""

import pytest

from tests.localserver import LocalServer


# --- Local HTTP server (tests/localserver.py) -------------------------------------------

@pytest.fixture
def local_server():
    """A real HTTP server on 127.0.0.1 and a free port, stopped after the test."""
    with LocalServer() as server:
        yield server
