from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from automations.api import ChronoViewSet, ChronoRunViewSet
from chronoflow.health import health
from whatsapp.api import ChannelViewSet, MessageViewSet

router = DefaultRouter()
router.register("chronos", ChronoViewSet, basename="chrono")
router.register("runs", ChronoRunViewSet, basename="run")
router.register("channels", ChannelViewSet, basename="channel")
router.register("messages", MessageViewSet, basename="message")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api-auth/", include("rest_framework.urls")),
    path("health", health, name="health"),
    path("", include("whatsapp.urls")),
]
