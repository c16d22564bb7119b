"""Point 8: every URL in the URLconf, walked anonymously with every method, leaks no data
and changes nothing. The walk reads the URLconf itself, so endpoints added later are in it.

Public by decision: /health* (503 is how they report a dependency down), the login and
logout pages, and the API's schema and its documentation pages (they describe the API,
they hold no data), and / (it redirects to the admin, which asks for a login). Anything else
answers 401/403/404/405, or redirects to a login page."""

import re

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

METHODS = ("get", "post", "put", "patch", "delete")
PUBLIC = re.compile(r"^/(|health(/\w+)?|admin/login/|admin/logout/|api-auth/log(in|out)/|api/(schema|docs|redoc)/)$")
# DRF basenames and their models, for URLs whose <pk> should name a real row.
BASENAMES = {"chrono": "automations.Chrono", "run": "automations.ChronoRun", "channel": "whatsapp.Channel",
             "message": "whatsapp.Message", "function": "functions.UserFunction"}


def walk(resolvers, prefix: str = ""):
    """(regex source, name) of every endpoint, nested includes flattened."""
    for entry in resolvers:
        regex = prefix + _strip(entry.pattern.regex.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, regex)
        elif isinstance(entry, URLPattern):
            yield regex, entry.name or ""


def _strip(regex: str) -> str:
    return regex.removeprefix("^").removesuffix("\\Z").removesuffix("$")


def concrete(regex: str, name: str, cast: dict) -> str:
    """A real path for the pattern: named groups filled with values that exist where possible."""

    def value(match: re.Match) -> str:
        group, body = match["name"], match["body"]
        if "|" in body and not any(ch in body for ch in "[*+"):
            return body.split("|")[0].strip("()")  # an alternation of literals: the first one
        if group in ("pk", "object_id", "id"):
            return str(_pk_for(name, cast))
        return {"format": "json", "token": "not-a-real-token", "session": "front", "action": "start",
                "app_label": "automations"}.get(group, "1")

    path = re.sub(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)", value, regex)
    path = path.replace("\\.", ".").replace("/?", "/").replace("\\", "")
    return "/" + path


def _pk_for(name: str, cast: dict) -> int:
    basename = name.rsplit("-", 1)[0]
    label = BASENAMES.get(basename)
    if label is None and name.count("_") >= 2:  # admin: <app>_<model>_<view>
        app_label, model, *_ = name.split("_")
        label = f"{app_label}.{model}"
    try:
        model = apps.get_model(label) if label else None
    except (LookupError, ValueError):
        model = None
    row = model._default_manager.first() if model else None
    return row.pk if row else cast["chrono"].pk


def snapshot() -> dict:
    return {m._meta.label: sorted(map(repr, m._default_manager.values())) for m in apps.get_models()
            if m._meta.label != "sessions.Session"}


def test_no_url_answers_an_anonymous_request_with_data_or_changes_anything(cast):
    paths = sorted({concrete(regex, name, cast) for regex, name in walk(get_resolver().url_patterns)})
    assert "/api/chronos/" in paths and f"/api/chronos/{cast['chrono'].pk}/" in paths  # the walk found the API
    before = snapshot()
    client = Client(enforce_csrf_checks=True)
    leaks = []
    for path in paths:
        for method in METHODS:
            response = client.generic(method.upper(), path, data=b"{}", content_type="application/json")
            status = response.status_code
            redirect = response.get("Location", "")
            public = bool(PUBLIC.match(path))
            if (status >= 500 and not (public and status == 503)) or (
                    not public and (200 <= status < 300 or (300 <= status < 400 and "login" not in redirect
                                                             and not (path == "/" and redirect == "/admin/")))):
                leaks.append((method.upper(), path, status, redirect))
    assert leaks == []
    assert snapshot() == before
