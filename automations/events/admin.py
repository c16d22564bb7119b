"""Admin of what starts chronos and who hears when they fail: message triggers, integrator
webhooks and failure alerts (inlines and actions on the chrono page), the event log, and
the "Ready-made automations" page. automations/admin.py plugs these into ChronoAdmin.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import ngettext
from django.utils.translation import gettext_lazy as _

from automations import recipes
from automations.models import AlertPolicy, Chrono, Event, IntegratorHook, MessageTrigger
from chronoflow.paginators import EstimatedCountPaginator

# --- On the chrono page ------------------------------------------------------------------------


class MessageTriggerInline(admin.StackedInline):
    model = MessageTrigger
    extra = 0
    max_num = 1
    fields = ["channel", "match", "pattern", "senders", "max_runs", "per_seconds"]
    verbose_name_plural = _("WhatsApp message trigger (runs the chrono with the message as input)")


class AlertPolicyInline(admin.StackedInline):
    model = AlertPolicy
    extra = 0
    max_num = 1
    fields = ["after_failures", "channel", "recipient", "webhook_url", "email", "pause_after",
              "consecutive_failures", "alerting", "last_alert_at", "last_alert", "paused_reason"]
    readonly_fields = ["consecutive_failures", "alerting", "last_alert_at", "last_alert", "paused_reason"]
    verbose_name_plural = _("Failure alerts")


class IntegratorHookInline(admin.StackedInline):
    """Read-only: the URL is created, rotated and removed with the actions, and shown in full only then."""

    model = IntegratorHook
    fields = readonly_fields = ["masked_url", "signed", "created_at", "rotated_at"]
    can_delete = False
    # No blank form: an unsaved hook would show a URL (its default token) that does not exist.
    extra = 0
    # A one-to-one inline is headed by verbose_name (Django 5.1+): the hint goes there, or it never shows.
    verbose_name = verbose_name_plural = _("Integrator webhook (use the actions to create, rotate or turn it off)")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("URL"))
    def masked_url(self, hook: IntegratorHook) -> str:
        return hook.masked_url

    @admin.display(description=_("Requests must be signed"), boolean=True)
    def signed(self, hook: IntegratorHook) -> bool:
        return bool(hook.signing_key)


CHRONO_INLINES = [IntegratorHookInline, MessageTriggerInline, AlertPolicyInline]


@admin.action(description=_("New integrator webhook URL (shown once)"), permissions=["change"])
def new_hook_url(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    with transaction.atomic():
        hooks = [IntegratorHook.rotate_token(chrono) for chrono in queryset]
    for hook in hooks:
        # The only place the full URL is ever shown: it is a credential.
        modeladmin.message_user(request, _("%(chrono)s: integrators POST JSON to %(url)s — copy it now, it will not be "
                                           "shown again; any older URL no longer works.")
                                % {"chrono": hook.chrono, "url": hook.url}, messages.SUCCESS)


@admin.action(description=_("New webhook signing key (shown once)"), permissions=["change"])
def new_hook_signing_key(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    with transaction.atomic():
        hooks = [IntegratorHook.rotate_signing_key(chrono) for chrono in queryset]
    for hook in hooks:
        modeladmin.message_user(request, _("%(chrono)s: requests must now carry X-ChronoFlow-Signature: sha256=<hex "
                                           "HMAC-SHA256 of the raw body> under the key %(key)s — copy it now, it will "
                                           "not be shown again.") % {"chrono": hook.chrono, "key": hook.signing_key},
                                messages.SUCCESS)


@admin.action(description=_("Turn off integrator webhook"), permissions=["change"])
def remove_hook(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    count, _ = IntegratorHook.objects.filter(chrono__in=queryset).delete()
    modeladmin.message_user(request, ngettext("Turned off %d webhook.", "Turned off %d webhooks.", count) % count,
                            messages.SUCCESS)


CHRONO_ACTIONS = [new_hook_url, new_hook_signing_key, remove_hook]


# --- The event log -----------------------------------------------------------------------------


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Inbound events, for audit: written by the webhooks and the message processing only."""

    list_display = ["received_at", "source", "outcome", "origin", "contact", "summary", "runs"]
    # A date filter, not date_hierarchy: the hierarchy reads the distinct days of every event.
    list_filter = ["source", "outcome", "channel", "received_at"]
    search_fields = ["summary", "contact", "chrono__name"]
    list_select_related = ["chrono", "channel"]
    paginator = EstimatedCountPaginator  # no exact counts of a big log (chronoflow/paginators.py)
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ["received_at", "source", "outcome", "chrono", "channel", "contact", "summary",
                                "runs", "detail", "payload"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("From"))
    def origin(self, event: Event) -> str:
        return str(event.chrono or event.channel or "-")

    @admin.display(description=_("Triggered"))
    def runs(self, event: Event) -> str:
        if not event.triggered:
            return "-"
        return format_html_join(", ", '<a href="{}">{} #{}</a>', (
            (reverse("admin:automations_chronorun_change", args=[item["run"]]), item["name"], item["run"])
            for item in event.triggered))


# --- Ready-made automations --------------------------------------------------------------------


def ready_made_urls(model_admin: admin.ModelAdmin) -> list:
    view = model_admin.admin_site.admin_view(lambda request: ready_made_view(model_admin, request))
    return [path("ready-made/", view, name="automations_chrono_ready_made")]


# Recipe options that are messages: a box, not a line.
TEXT_OPTIONS = ("reply", "greeting", "question", "welcome")


def recipe_form(recipe: recipes.Recipe, data=None) -> forms.Form:
    """A form with one field per option the recipe asks for; checking is the catalog's job."""
    from whatsapp.models import Channel

    form = forms.Form(data, prefix=recipe.name)
    for option in recipe.options:
        if option.name == "channel":
            field = forms.ModelChoiceField(Channel.objects.all(), to_field_name="session_name", help_text=option.help)
        else:
            widget = forms.Textarea(attrs={"rows": 3}) if option.name in TEXT_OPTIONS else None
            field = forms.CharField(initial=option.default, help_text=option.help, widget=widget)
        form.fields[option.name] = field
    return form


def ready_made_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET: each template with its form. POST: install one; show its chronos, or the form's errors."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    forms_by_name = {name: recipe_form(recipe) for name, recipe in recipes.RECIPES.items()}
    installed, status = None, 200
    chosen = recipes.RECIPES.get(request.POST.get("template", ""))
    if request.method == "POST" and chosen is not None:
        form = forms_by_name[chosen.name] = recipe_form(chosen, request.POST)
        installed = _install(chosen, form)
        status = 200 if installed else 400
    context = {**model_admin.admin_site.each_context(request), "title": _("Ready-made automations"),
               "opts": Chrono._meta, "installed": installed,
               "recipes": [(recipe, forms_by_name[name]) for name, recipe in recipes.RECIPES.items()]}
    return TemplateResponse(request, "admin/automations/chrono/ready_made.html", context, status=status)


def _install(recipe: recipes.Recipe, form: forms.Form) -> recipes.Installed | None:
    if not form.is_valid():
        return None
    answers = {name: (value.session_name if name == "channel" else value) for name, value in form.cleaned_data.items()}
    try:
        return recipe.install(answers)
    except recipes.InvalidOption as exc:
        form.add_error(exc.option if exc.option in form.fields else None, exc.message)
        return None
