"""Activates the signed-in operator's language and time zone for the request."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from accounts.models import OperatorProfile


class OperatorPreferencesMiddleware:
    """After AuthenticationMiddleware and LocaleMiddleware: the profile's choices win over the
    browser's Accept-Language and the deployment's TIME_ZONE. API calls with a token are
    authenticated later, by DRF, so they get the browser's language and the deployment's zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        profile = self._profile(request)
        if profile and profile.language:
            translation.activate(profile.language)
            request.LANGUAGE_CODE = translation.get_language()
        if profile and profile.time_zone:
            timezone.activate(profile.time_zone)
        else:
            timezone.deactivate()  # the thread's previous request may have activated another
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    @staticmethod
    def _profile(request: HttpRequest) -> OperatorProfile | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return OperatorProfile.objects.filter(user=user).only("language", "time_zone").first()
