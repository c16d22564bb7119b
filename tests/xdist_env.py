"""Separate services for each pytest-xdist worker (`make test` runs the suite with -n 2).

Loaded with ``-p tests.xdist_env`` (pytest.ini), so this runs before pytest-django imports the
settings. pytest-django already gives each worker its own test database (test_<name>_gw0, ...);
what the settings read from the environment is split here: each worker gets its own Redis
database (the base one plus the worker's number, so worker and beat processes a test starts
only see that test's messages) and its own DATA_DIR (filesystem broker, media, logs).
Outside xdist nothing changes. Imports nothing from Django.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16  # redis-server's default `databases`


def _worker_number() -> int | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... set before the worker imports us
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_url_for(url: str, number: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = base + number
    if database >= REDIS_DATABASES:
        raise RuntimeError(f"REDIS_URL {url}: worker gw{number} would need Redis database {database}; "
                           f"use a lower database number or fewer workers (-n)")
    return urlunsplit(parts._replace(path=f"/{database}"))


def _split_environment() -> None:
    number = _worker_number()
    if number is None:
        return
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for(os.environ["REDIS_URL"], number)
    root = Path(__file__).resolve().parent.parent
    data_dir = Path(os.environ.get("DATA_DIR") or root / "var")
    os.environ["DATA_DIR"] = str(data_dir / f"xdist-gw{number}")


_split_environment()
