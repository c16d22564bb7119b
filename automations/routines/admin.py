"""The routines' rows in the admin: survey answers to read, marks to audit (read-only)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from automations.routines.models import RoutineMark, SurveyAnswer


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(ReadOnly):
    list_display = ["contact", "score", "status", "reply", "asked_at", "answered_at", "chrono"]
    list_filter = ["status", "score", "chrono"]
    search_fields = ["contact__name", "contact__phone", "reply"]
    list_select_related = ["contact", "chrono"]
    date_hierarchy = "asked_at"


@admin.register(RoutineMark)
class RoutineMarkAdmin(ReadOnly):
    list_display = ["contact", "key", "chrono", "created_at"]
    list_filter = ["chrono"]
    search_fields = ["contact__name", "contact__phone", "key"]
    list_select_related = ["contact", "chrono"]

