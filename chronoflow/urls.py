from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from automations.api import ChronoViewSet, ChronoRunViewSet
from chronoflow.health import health

router = DefaultRouter()
router.register("chronos", ChronoViewSet, basename="chrono")
router.register("runs", ChronoRunViewSet, basename="run")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api-auth/", include("rest_framework.urls")),
    path("health", health, name="health"),
]
