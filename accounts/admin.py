"""Operators' preferences: an inline on the user page, and "my preferences" for everyone."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.forms import OperatorProfileForm
from accounts.models import OperatorProfile

User = get_user_model()


class OperatorProfileInline(admin.StackedInline):
    model = OperatorProfile
    form = OperatorProfileForm
    can_delete = False
    verbose_name_plural = _("operator preferences")


@admin.register(OperatorProfile)
class OperatorProfileAdmin(admin.ModelAdmin):
    """Every staff member edits their own preferences; superusers see everyone's.
    The list leads a staff member straight to their own page (made on first visit)."""

    form = OperatorProfileForm
    list_display = ["user", "language", "time_zone"]
    readonly_fields = ["user"]
    fields = ["user", "language", "time_zone"]

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: OperatorProfile | None = None) -> bool:
        return self._own_or_superuser(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: OperatorProfile | None = None) -> bool:
        return self._own_or_superuser(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a profile comes with its user: the list makes it

    def has_delete_permission(self, request: HttpRequest, obj: OperatorProfile | None = None) -> bool:
        return request.user.is_superuser

    @staticmethod
    def _own_or_superuser(request: HttpRequest, obj: OperatorProfile | None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if request.user.is_superuser:
            return super().changelist_view(request, extra_context)
        profile, _created = OperatorProfile.objects.get_or_create(user=request.user)
        return HttpResponseRedirect(reverse("admin:accounts_operatorprofile_change", args=[profile.pk]))


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class OperatorUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, OperatorProfileInline]
