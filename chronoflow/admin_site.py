"""ChronoFlow's admin site: its name on every page, and beat's and Celery's own tables out of the way.

django-celery-beat's schedule tables are written by automations/beat/sync.py only, and
django-celery-results' rows by Celery: an operator editing them desyncs beat. They stay
reachable for superusers, grouped under "Advanced" at the end of the index; for everybody
else they are neither listed nor reachable, whatever permissions they were given.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

ADVANCED_APPS = frozenset({"django_celery_beat", "django_celery_results"})
# Their names as the index lists them: neither package ships a pt-BR catalogue, so ours translates them.
ADVANCED_NAMES = {
    "PeriodicTask": _("Periodic tasks"), "CrontabSchedule": _("Crontabs"), "IntervalSchedule": _("Intervals"),
    "ClockedSchedule": _("Clocked"), "SolarSchedule": _("Solar events"), "TaskResult": _("Task results"),
    "GroupResult": _("Group results"),
}


class SuperusersOnly:
    """Mixed into the ModelAdmins of ADVANCED_APPS: every permission needs a superuser as well."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class ChronoFlowAdminSite(admin.AdminSite):
    site_header = _("ChronoFlow")
    site_title = _("ChronoFlow")
    index_title = _("ChronoFlow")
    # "/" redirects here: a "View site" link would only reload the admin.
    site_url = None

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        for model in models:
            cls = admin_class or admin.ModelAdmin
            if model._meta.app_label in ADVANCED_APPS and not issubclass(cls, SuperusersOnly):
                cls = type(cls.__name__, (SuperusersOnly, cls), {"__module__": cls.__module__})
            super().register(model, cls, **options)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The index's apps, with beat's and Celery's (superusers only) as one "Advanced" group at the end."""
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps  # one app's own page: as it is
        ordinary = [app for app in apps if app["app_label"] not in ADVANCED_APPS]
        advanced = [app for app in apps if app["app_label"] in ADVANCED_APPS]
        if not advanced:
            return ordinary
        models = [{**model, "name": ADVANCED_NAMES.get(model["object_name"], model["name"])}
                  for app in advanced for model in app["models"]]
        group = {"name": _("Advanced"), "app_label": "advanced", "app_url": advanced[0]["app_url"],
                 "has_module_perms": True, "models": models}
        return [*ordinary, group]


class ChronoFlowAdminConfig(AdminConfig):
    default_site = "chronoflow.admin_site.ChronoFlowAdminSite"
