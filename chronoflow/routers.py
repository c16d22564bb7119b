"""Routers whose routes answer with and without their trailing slash.

The original system's clients call ``POST /api/chronos/1/pause`` and ``GET /chronos/1``.
Without this, APPEND_SLASH answers a POST with a 301, which clients follow as a GET.
"""

from rest_framework.routers import DefaultRouter, SimpleRouter


class OptionalSlashRouter(DefaultRouter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"


class OptionalSlashSimpleRouter(SimpleRouter):
    """No API root view: for routes mounted at the site's root, beside other apps' pages."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
