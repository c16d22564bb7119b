"""Admin of chronos and their runs: where operators define and watch automations."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, JsonResponse
from django.template.defaultfilters import linebreaksbr
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from automations.dashboard import status_badge
from automations.events import admin as event_admin
from automations.models import Chrono, ChronoRun
from automations.serializers import SECRET_MAPPINGS
from chronoflow import secrets
from chronoflow.paginators import EstimatedCountPaginator
from chronoflow.timefmt import local_time

RUNS_INLINE_LIMIT = 20


def runs_changelist_url(chrono: Chrono) -> str:
    return f"{reverse('admin:automations_chronorun_changelist')}?chrono__id__exact={chrono.pk}"


def schedule_preview_html(chrono: Chrono) -> str:
    """Normalised form, English and Portuguese descriptions, next five fire times in the chrono's zone."""
    if chrono.schedule_changed():
        # Not parsed (a new chrono), or a refused edit: the stored form no longer matches the text.
        return _("Type a schedule to see its normalised form, its description and the next five fire times.")
    times = [(local_time(when, chrono.timezone), _dst_note_html(chrono, when))
             for when in chrono.next_fire_times(5)]
    return format_html(
        '<dl class="schedule-preview"><dt>{}</dt><dd><code>{}</code> {}</dd>'
        "<dt>English</dt><dd>{}</dd><dt>Português</dt><dd>{}</dd>"
        "<dt>{}</dt><dd>{}</dd></dl>",
        _("Normalised"), chrono.schedule_kind, chrono.schedule_expression,
        chrono.describe_schedule("en"), chrono.describe_schedule("pt_BR"),
        _("Next fire times (%(zone)s)") % {"zone": chrono.timezone},
        format_html_join("", "<div>{}{}</div>", times) if times else _("None: it will not fire again."),
    )


def _dst_note_html(chrono: Chrono, when) -> str:
    note = chrono.fire_time_note(when, "en")
    if note is None:
        return ""
    return format_html(' <em class="dst-note">— {} / <span lang="pt-BR">{}</span></em>',
                       note, chrono.fire_time_note(when, "pt_BR"))


class StoredFileInput(forms.ClearableFileInput):
    """The current file by its stored name, not as a link: nothing serves MEDIA_URL."""

    def render(self, name, value, attrs=None, renderer=None):
        upload = forms.FileInput().render(name, None, attrs, renderer)
        if not self.is_initial(value):
            return upload
        clear_name = self.clear_checkbox_name(name)
        clear = forms.CheckboxInput().render(clear_name, False, {"id": self.clear_checkbox_id(clear_name)}, renderer)
        return format_html('<p class="file-upload">{}: <code>{}</code> {} <label for="{}">{}</label><br>{}: {}</p>',
                           self.initial_text, value.name, clear, self.clear_checkbox_id(clear_name),
                           self.clear_checkbox_label, self.input_text, upload)


class ChronoForm(forms.ModelForm):
    class Meta:
        model = Chrono
        fields = "__all__"
        widgets = {"attachment_file": StoredFileInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Offer the allowed methods as a list, but leave refusing others to Chrono.clean(),
        # which says which ones are allowed (the API gets the same message).
        choices = [(m, m) for m in settings.ALLOWED_METHODS]
        if self.instance.method and self.instance.method not in settings.ALLOWED_METHODS:
            choices.append((self.instance.method, self.instance.method))
        self.fields["method"].widget = forms.Select(choices=choices)
        secrets.mask_form_initial(self, SECRET_MAPPINGS)  # write-only secrets (chronoflow/secrets.py)

    def clean(self) -> dict:
        cleaned = super().clean()
        # An emptied JSON box means "none": store the field's empty default, not NULL.
        for name in ("headers", "recipients", "extras"):
            if name in cleaned and cleaned[name] is None:
                cleaned[name] = Chrono._meta.get_field(name).get_default()
        return secrets.keep_masked_in_form(self, cleaned, SECRET_MAPPINGS)


class LatestRunsFormSet(BaseInlineFormSet):
    def get_queryset(self):
        # A chrono firing every minute has thousands of runs; the full list is one click away.
        return super().get_queryset()[:RUNS_INLINE_LIMIT]

    def all_runs_url(self) -> str:
        return runs_changelist_url(self.instance)


class ChronoRunInline(admin.TabularInline):
    model = ChronoRun
    formset = LatestRunsFormSet
    template = "admin/automations/chrono/runs_inline.html"
    verbose_name_plural = format_lazy(_("Latest runs (newest first, up to {n})"), n=RUNS_INLINE_LIMIT)
    fields = readonly_fields = [
        "run_link", "scheduled_for", "trigger", "run_status", "attempt", "duration_ms", "http_status", "error_message",
    ]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("Run"))
    def run_link(self, run: ChronoRun) -> str:
        return format_html('<a href="{}">#{}</a>', reverse("admin:automations_chronorun_change", args=[run.pk]), run.pk)

    @admin.display(description=_("Status"))
    def run_status(self, run: ChronoRun) -> str:
        return status_badge(run.status, run.get_status_display())


class LastRunStatusFilter(admin.SimpleListFilter):
    """The run statuses as fixed choices: the default filter reads the distinct values of every chrono."""

    title = _("last run status")
    parameter_name = "last_run_status__exact"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return list(ChronoRun.Status.choices)

    def queryset(self, request: HttpRequest, queryset):
        return queryset.filter(last_run_status=self.value()) if self.value() else queryset


@admin.register(Chrono)
class ChronoAdmin(admin.ModelAdmin):
    form = ChronoForm
    list_display = [
        "name", "schedule", "schedule_in_words", "target_type", "is_active", "next_run", "last_run", "runs_link",
    ]
    list_filter = ["target_type", "is_active", LastRunStatusFilter]
    search_fields = ["name"]
    paginator = EstimatedCountPaginator  # 100,000 chronos: no exact counts (chronoflow/paginators.py)
    show_full_result_count = False
    list_per_page = 50  # rendering dominates a list page: 50 rows take half the time of 100
    list_select_related = ["channel", "function"]
    actions = ["run_now", "pause", "resume", *event_admin.CHRONO_ACTIONS]
    inlines = [ChronoRunInline]
    readonly_fields = [
        "schedule_preview", "next_run_at", "last_run_at", "last_run_status", "last_error",
        "all_runs", "created_at", "updated_at",
    ]
    fieldsets = [
        (_("Basics"), {"fields": ["name", "description", "is_active"]}),
        (_("Schedule"), {"fields": ["schedule", "timezone", "schedule_preview"]}),
        (_("Target"), {
            "fields": ["target_type", "method", "url", "headers", "payload", "timeout_ms",
                       "channel", "message_template", "recipients", "attachment_kind", "attachment_url",
                       "attachment_file", "attachment_filename", "attachment_mimetype", "function", "extras",
                       "assistant", "routine"],
            "description": _("Fill in the fields of the chosen target type; the others are ignored."),
        }),
        (_("Policies"), {
            "fields": ["max_attempts", "backoff_ms", "misfire_policy", "catchup_window_s", "overlap_policy"],
            "classes": ["collapse"],
        }),
    ]
    state_fieldset = (_("State"), {
        "fields": ["next_run_at", "last_run_at", "last_run_status", "last_error", "all_runs", "created_at", "updated_at"],
    })

    def get_fieldsets(self, request: HttpRequest, obj: Chrono | None = None):
        # A chrono that does not exist yet has no state to show.
        return [*self.fieldsets, self.state_fieldset] if obj else self.fieldsets

    def get_inlines(self, request: HttpRequest, obj: Chrono | None):
        # Triggers, webhook and alerts (automations/events/admin.py); runs once there can be some.
        return [*event_admin.CHRONO_INLINES, *(self.inlines if obj else [])]

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="automations_chrono_preview")
        return [preview, *event_admin.ready_made_urls(self), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The schedule preview for what is typed in the form, before it is saved."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        chrono = Chrono(schedule=request.GET.get("schedule", ""),
                        timezone=request.GET.get("timezone") or settings.DEFAULT_TIMEZONE)
        try:
            chrono.apply_schedule()
        except ValidationError as exc:
            problems = [message for messages_ in exc.message_dict.values() for message in messages_]
            return JsonResponse({"ok": False, "html": format_html_join("", '<p class="errornote">{}</p>',
                                                                      ((linebreaksbr(p),) for p in problems))})
        return JsonResponse({"ok": True, "html": schedule_preview_html(chrono)})

    # --- Read-only displays ---------------------------------------------------------------

    @admin.display(description=_("In words"))
    def schedule_in_words(self, chrono: Chrono) -> str:
        return chrono.describe_schedule()  # in the active language

    @admin.display(description=_("Next run"), ordering="next_run_at")
    def next_run(self, chrono: Chrono) -> str:
        # In the chrono's own zone, labelled, as the preview: "todo dia às 08:00" should read 08:00.
        # What already happened (last run, runs) is in the operator's zone.
        return local_time(chrono.next_run_at, chrono.timezone)

    @admin.display(description=_("Last run"), ordering="last_run_status")
    def last_run(self, chrono: Chrono) -> str:
        return status_badge(chrono.last_run_status)

    @admin.display(description=_("Runs"))
    def runs_link(self, chrono: Chrono) -> str:
        return format_html('<a href="{}">{}</a>', runs_changelist_url(chrono), _("Runs"))

    @admin.display(description=_("Preview"))
    def schedule_preview(self, chrono: Chrono) -> str:
        return schedule_preview_html(chrono)

    @admin.display(description=_("Run history"))
    def all_runs(self, chrono: Chrono) -> str:
        count = chrono.runs.count()
        return format_html('<a href="{}">{}</a>', runs_changelist_url(chrono),
                           ngettext("%(count)d run of this chrono", "All %(count)d runs of this chrono", count) % {"count": count})

    # --- Actions ------------------------------------------------------------------------

    @admin.action(description=_("Run now"), permissions=["change"])
    def run_now(self, request: HttpRequest, queryset) -> None:
        with transaction.atomic():
            count = len([chrono.trigger() for chrono in queryset])
        self.message_user(request, ngettext("Triggered %d chrono.", "Triggered %d chronos.", count) % count, messages.SUCCESS)

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset) -> None:
        # ChronoQuerySet.update re-syncs beat for every chrono it touches.
        count = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, ngettext("Paused %d chrono.", "Paused %d chronos.", count) % count, messages.SUCCESS)

    @admin.action(description=_("Resume"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset) -> None:
        with transaction.atomic():
            paused = list(queryset.filter(is_active=False))
            for chrono in paused:
                chrono.resume()
        count = len(paused)
        self.message_user(request, ngettext("Resumed %d chrono.", "Resumed %d chronos.", count) % count, messages.SUCCESS)


@admin.register(ChronoRun)
class ChronoRunAdmin(admin.ModelAdmin):
    """Runs are written by the workers only: operators read them (and may delete history)."""

    list_display = [
        "id", "chrono_link", "scheduled_for", "trigger", "run_status", "attempt", "duration_ms", "http_status",
    ]
    # A date filter, not date_hierarchy: the hierarchy reads the distinct days of every run.
    list_filter = ["status", "trigger", "chrono__target_type", "scheduled_for"]
    search_fields = ["chrono__name"]
    paginator = EstimatedCountPaginator  # millions of runs: no exact counts (chronoflow/paginators.py)
    show_full_result_count = False
    list_per_page = 50
    list_select_related = ["chrono"]
    fields = [
        "chrono_link", "scheduled_for", "trigger", "run_status", "attempt", "started_at", "finished_at",
        "duration_ms", "http_status", "response_snippet", "error_message", "result", "input", "attempts", "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChronoRun | None = None) -> bool:
        return False

    @admin.display(description=_("Status"), ordering="status")
    def run_status(self, run: ChronoRun) -> str:
        return status_badge(run.status, run.get_status_display())

    @admin.display(description=_("Chrono"), ordering="chrono__name")
    def chrono_link(self, run: ChronoRun) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:automations_chrono_change", args=[run.chrono_id]), run.chrono)


from automations.routines import admin as routines_admin  # noqa: E402, F401 (registers the routines' rows)
