"""ChronoFlow's admin site: its name on every page, and beat's and Celery's own tables out of the way.

django-celery-beat's schedule tables are written by automations/beat/sync.py only, and
django-celery-results' rows by Celery: an operator editing them desyncs beat. They stay
reachable for superusers, grouped under "Advanced" at the end of the index; for everybody
else they are neither listed nor reachable, whatever permissions they were given.
"""

import threading

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template import Context
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.safestring import SafeString
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
        """The index's apps, with beat's and Celery's (superusers only) as one "Advanced" group at the end.

        Every admin page lists them (the nav sidebar): kept per user rights, language and script
        prefix (APP_LISTS), as every ModelAdmin's has_*_permission here reads only the user's flags
        and permissions. One that reads anything else (the request, the time) must not be listed so."""
        key = (user_rights(request.user), translation.get_language(), get_script_prefix(), app_label)
        apps = APP_LISTS.get(key)
        if apps is None:
            apps = keep(APP_LISTS, key, self._grouped_app_list(request, app_label))
        return list(apps)

    def _grouped_app_list(self, request: HttpRequest, app_label: str | None) -> list[dict]:
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


# Reversing two URLs and checking four permissions for each of ~30 models, then rendering them
# in Django's app_list.html, was a third of a list page's work: both are kept, each under a key
# holding all it depends on. A few hundred of each at most (keep()).
APP_LISTS: dict[tuple, list[dict]] = {}  # (user_rights, language, script prefix, app) -> app list
SIDEBARS: dict[tuple, SafeString] = {}  # (language, path, app_list_key) -> the sidebar's app list
KEPT = 256
KEEPING = threading.Lock()


def keep(store: dict, key: tuple, value):
    """store[key] = value, dropping the oldest entry past KEPT; returns value. Readers take no lock."""
    with KEEPING:  # gunicorn's threads: iterating a dict another thread grows raises
        if len(store) >= KEPT:
            store.pop(next(iter(store)), None)
        store[key] = value
    return value


def user_rights(user) -> tuple:
    """What the app list depends on: the user's flags, and their permissions unless a superuser's."""
    perms = None if user.is_active and user.is_superuser else frozenset(user.get_all_permissions())
    return user.is_active, user.is_staff, user.is_superuser, perms


def sidebar_app_list(context: Context) -> SafeString:
    """admin/app_list.html for the nav sidebar (``available_apps``, no change links), from SIDEBARS when it can."""
    apps, request = context.get("available_apps") or [], context["request"]
    key = (translation.get_language(), request.path, app_list_key(apps))
    html = SIDEBARS.get(key)
    if html is None:
        with context.push(app_list=apps, show_changelinks=False):
            html = keep(SIDEBARS, key, context.template.engine.get_template("admin/app_list.html").render(context))
    return html


def app_list_key(apps: list[dict]) -> tuple:
    """Everything of the app list that admin/app_list.html writes (names as the active language has them)."""
    return tuple(
        (app.get("app_label"), app.get("app_url"), str(app.get("name")), tuple(
            (model.get("object_name"), model.get("admin_url"), model.get("add_url"), str(model.get("name")),
             model.get("view_only"))
            for model in app.get("models", ())))
        for app in apps)


class ChronoFlowAdminConfig(AdminConfig):
    default_site = "chronoflow.admin_site.ChronoFlowAdminSite"
