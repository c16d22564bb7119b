from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from assistants.api import AssistantViewSet
from automations.api import ChronoRunViewSet, ChronoViewSet, LegacyChronoViewSet
from automations.events import hooks
from campaigns.api import CampaignViewSet
from functions.api import UserFunctionViewSet
from chronoflow import health, schema  # noqa: F401  (schema: documents views drf-spectacular cannot read)
from chronoflow.metrics import metrics
from chronoflow.routers import OptionalSlashRouter, OptionalSlashSimpleRouter
from contacts.api import ContactViewSet
from whatsapp.api import ChannelViewSet, MessageViewSet

router = OptionalSlashRouter()
router.register("chronos", ChronoViewSet, basename="chrono")
router.register("runs", ChronoRunViewSet, basename="run")
router.register("channels", ChannelViewSet, basename="channel")
router.register("messages", MessageViewSet, basename="message")
router.register("functions", UserFunctionViewSet, basename="function")
router.register("assistants", AssistantViewSet, basename="assistant")
router.register("contacts", ContactViewSet, basename="contact")
router.register("campaigns", CampaignViewSet, basename="campaign")
# The original system's paths (/chronos, /chronos/1/runs?skip=&take=): same viewset, same auth.
legacy_router = OptionalSlashSimpleRouter()
legacy_router.register("chronos", LegacyChronoViewSet, basename="legacy-chrono")

urlpatterns = [
    # Operators start in the admin; there is no other site.
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api-auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("health", health.health, name="health"),
    path("health/db", health.health_db, name="health-db"),
    path("health/redis", health.health_broker, name="health-redis"),
    path("health/broker", health.health_broker, name="health-broker"),
    path("health/queues", health.health_queues, name="health-queues"),
    path("health/whatsapp", health.health_whatsapp, name="health-whatsapp"),
    path("metrics", metrics, name="metrics"),
    path("hooks/<str:token>", hooks.hook, name="integrator-hook"),
    path("", include(legacy_router.urls)),
    path("", include("whatsapp.urls")),
]


# Paths whose clients are programs: their 404s are JSON too.
JSON_PATHS = ("/api/", "/chronos/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A JSON 404 under /api/ and /chronos (e.g. /api/runs/0.5/, which no route matches); Django's page elsewhere."""
    if request.path.startswith(JSON_PATHS) or request.path == "/chronos":
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
