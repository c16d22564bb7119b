"""Admin of chronos and their runs: where operators define and watch automations.

The form (one fieldset per target, readable boxes) is automations/admin_forms.py, the
run page and the runs inline automations/admin_runs.py, their displays admin_display.py.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, JsonResponse
from django.template.defaultfilters import linebreaksbr
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from automations.admin_display import local_time_html
from automations.admin_forms import ChronoForm, target_fieldset_classes
from automations.admin_rows import ListedFieldsOnly
from automations.admin_runs import ChronoRunAdmin, ChronoRunInline, can_run, run_links, runs_changelist_url, start_run
from automations.dashboard import status_badge
from automations.events import admin as event_admin
from automations.models import Chrono, ChronoFinished, ChronoRun
from chronoflow.paginators import EstimatedCountPaginator
from chronoflow.timefmt import local_time

__all__ = ["ChronoAdmin", "ChronoRunAdmin"]

T = Chrono.TargetType


def schedule_preview_html(chrono: Chrono) -> str:
    """Normalised form, English and Portuguese descriptions, next five fire times in the chrono's zone."""
    if chrono.schedule_changed():
        # Not parsed (a new chrono), or a refused edit: the stored form no longer matches the text.
        return gettext("Type a schedule to see its normalised form, its description and the next five fire times.")
    times = [(local_time_html(when, chrono.timezone), _dst_note_html(chrono, when)) for when in chrono.next_fire_times(5)]
    return format_html(
        '<dl class="schedule-preview"><dt>{}</dt><dd><code>{}</code> {}</dd>'
        "<dt>English</dt><dd>{}</dd><dt>Português</dt><dd>{}</dd>"
        "<dt>{}</dt><dd>{}</dd></dl>",
        gettext("Normalised"), chrono.schedule_kind, chrono.schedule_expression,
        chrono.describe_schedule("en"), chrono.describe_schedule("pt_BR"),
        gettext("Next fire times (%(zone)s)") % {"zone": chrono.timezone},
        format_html_join("", "<div>{}{}</div>", times) if times else gettext("None: it will not fire again."),
    )


def _dst_note_html(chrono: Chrono, when) -> str:
    note = chrono.fire_time_note(when, "en")
    if note is None:
        return ""
    return format_html(' <em class="dst-note">— {} / <span lang="pt-BR">{}</span></em>',
                       note, chrono.fire_time_note(when, "pt_BR"))


class LastRunStatusFilter(admin.SimpleListFilter):
    """The run statuses as fixed choices: the default filter reads the distinct values of every chrono."""

    title = _("last run status")
    parameter_name = "last_run_status__exact"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return list(ChronoRun.Status.choices)

    def queryset(self, request: HttpRequest, queryset):
        return queryset.filter(last_run_status=self.value()) if self.value() else queryset


class StateFilter(admin.SimpleListFilter):
    """Active, paused, or done: a finished one-shot is not a paused chrono."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return list(Chrono.State.choices)

    def queryset(self, request: HttpRequest, queryset):
        return queryset.in_state(self.value()) if self.value() in Chrono.State.values else queryset


@admin.register(Chrono)
class ChronoAdmin(ListedFieldsOnly, admin.ModelAdmin):
    form = ChronoForm
    list_display = [
        "name", "schedule", "schedule_in_words", "target_type", "state_badge", "next_run", "last_run", "runs_link",
    ]
    list_filter = ["target_type", StateFilter, LastRunStatusFilter]
    search_fields = ["name"]
    paginator = EstimatedCountPaginator  # 100,000 chronos: no exact counts (chronoflow/paginators.py)
    show_full_result_count = False
    list_per_page = 50  # rendering dominates a list page: 50 rows take half the time of 100
    # What list_display reads (describe_schedule: the parsed schedule and the zone; state: is_active, run_at).
    list_fields = ("name", "schedule", "schedule_kind", "schedule_expression", "run_at", "timezone", "target_type",
                   "is_active", "next_run_at", "last_run_status")
    actions = ["run_now", "pause", "resume", *event_admin.CHRONO_ACTIONS]
    inlines = [ChronoRunInline]
    readonly_fields = [
        "schedule_preview", "state_badge", "next_run", "last_run_at_local", "last_run", "last_error",
        "all_runs", "created_at_local", "updated_at_local",
    ]
    fieldsets = [
        (_("Basics"), {"fields": ["name", "description", "is_active"]}),
        (_("Schedule"), {"fields": ["schedule", "timezone", "schedule_preview"]}),
        (_("Target"), {"fields": ["target_type"],
                       "description": _("Choose what the chrono does; only that target's fields are shown.")}),
        (_("WhatsApp channel"), {"fields": ["channel"],
                                 "classes": target_fieldset_classes(T.MESSAGE, T.FUNCTION, T.ASSISTANT, T.ROUTINE)}),
        (_("HTTP request"), {"fields": ["method", "url", "headers", "payload", "timeout_ms"],
                             "classes": target_fieldset_classes(T.HTTP)}),
        (_("WhatsApp message"), {"fields": ["message_template", "recipients", "attachment_kind", "attachment_url",
                                            "attachment_file", "attachment_filename", "attachment_mimetype"],
                                 "classes": target_fieldset_classes(T.MESSAGE)}),
        (_("Python function"), {"fields": ["function"], "classes": target_fieldset_classes(T.FUNCTION)}),
        (_("Ready-made routine"), {"fields": ["routine"], "classes": target_fieldset_classes(T.ROUTINE)}),
        (_("Options"), {"fields": ["extras"], "classes": target_fieldset_classes(T.FUNCTION, T.ROUTINE, T.CAMPAIGN)}),
        (_("AI assistant"), {"fields": ["assistant"], "classes": target_fieldset_classes(T.ASSISTANT)}),
        (_("Policies"), {
            "fields": ["max_attempts", "backoff_ms", "misfire_policy", "catchup_window_s", "overlap_policy"],
            "classes": ["collapse"],
        }),
    ]
    state_fieldset = (_("State"), {
        "fields": ["state_badge", "next_run", "last_run_at_local", "last_run", "last_error", "all_runs",
                   "created_at_local", "updated_at_local"],
    })

    def get_fieldsets(self, request: HttpRequest, obj: Chrono | None = None):
        # A chrono that does not exist yet has no state to show.
        return [*self.fieldsets, self.state_fieldset] if obj else self.fieldsets

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # ?campaign=<id>: the campaigns' "Repeat on a schedule" action, naming its draft in extras.
        initial = super().get_changeform_initial_data(request)
        campaign = initial.pop("campaign", "")
        if isinstance(campaign, str) and campaign.isdigit():
            initial["extras"] = {"campaign": int(campaign)}
        return initial

    def get_inlines(self, request: HttpRequest, obj: Chrono | None):
        # Triggers, webhook and alerts (automations/events/admin.py); the webhook (made by an action on
        # a saved chrono) and the runs once there can be some.
        if obj is None:
            return [inline for inline in event_admin.CHRONO_INLINES if inline is not event_admin.IntegratorHookInline]
        return [*event_admin.CHRONO_INLINES, *self.inlines]

    def get_urls(self):
        own = [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="automations_chrono_preview"),
            path("<path:object_id>/run-now/", self.admin_site.admin_view(self.run_now_view),
                 name="automations_chrono_run_now"),
        ]
        return [*own, *event_admin.ready_made_urls(self), *super().get_urls()]

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

    def run_now_view(self, request: HttpRequest, object_id: str):
        """POST from the chrono page's "Run now": a manual run, then the new run's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_run(request):
            raise PermissionDenied
        chrono = self.get_object(request, object_id)
        if chrono is None:
            raise Http404(gettext("No chrono with id %(id)s.") % {"id": object_id})
        return start_run(request, chrono, ChronoRun.Trigger.MANUAL)

    # --- Read-only displays ---------------------------------------------------------------

    @admin.display(description=_("In words"))
    def schedule_in_words(self, chrono: Chrono) -> str:
        return chrono.describe_schedule()  # in the active language

    @admin.display(description=_("State"), ordering="is_active")
    def state_badge(self, chrono: Chrono) -> str:
        return status_badge(chrono.state, chrono.State(chrono.state).label)

    @admin.display(description=_("Next run"), ordering="next_run_at")
    def next_run(self, chrono: Chrono) -> str:
        # In the chrono's own zone: "todo dia às 08:00" should read 08:00, not the UTC hour.
        if chrono.is_done:
            return gettext("none: done")
        if not chrono.is_active:
            return gettext("none: paused")
        return local_time_html(chrono.next_run_at, chrono.timezone)

    @admin.display(description=_("Last run"), ordering="last_run_status")
    def last_run(self, chrono: Chrono) -> str:
        return status_badge(chrono.last_run_status)

    @admin.display(description=_("Last run at"))
    def last_run_at_local(self, chrono: Chrono) -> str:
        return local_time_html(chrono.last_run_at)  # the operator's zone

    @admin.display(description=_("Created at"))
    def created_at_local(self, chrono: Chrono) -> str:
        return local_time_html(chrono.created_at)

    @admin.display(description=_("Updated at"))
    def updated_at_local(self, chrono: Chrono) -> str:
        return local_time_html(chrono.updated_at)

    @admin.display(description=_("Runs"))
    def runs_link(self, chrono: Chrono) -> str:
        return format_html('<a href="{}">{}</a>', runs_changelist_url(chrono), gettext("Runs"))

    @admin.display(description=_("Preview"))
    def schedule_preview(self, chrono: Chrono) -> str:
        return schedule_preview_html(chrono)

    @admin.display(description=_("Run history"))
    def all_runs(self, chrono: Chrono) -> str:
        count = chrono.runs.count()
        if not count:
            return gettext("No runs yet.")
        text = ngettext("The one run of this chrono", "All %(count)d runs of this chrono", count) % {"count": count}
        return format_html('<a href="{}">{}</a>', runs_changelist_url(chrono), text)

    # --- Actions ------------------------------------------------------------------------

    @admin.action(description=_("Run now"), permissions=["change"])
    def run_now(self, request: HttpRequest, queryset) -> None:
        with transaction.atomic():
            runs = [chrono.trigger() for chrono in queryset]
        count = len(runs)
        text = ngettext("Triggered %(count)d chrono: run {}.", "Triggered %(count)d chronos: runs {}.", count)
        self.message_user(request, format_html(text % {"count": count}, run_links(runs)), messages.SUCCESS)

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset) -> None:
        # ChronoQuerySet.update re-syncs beat for every chrono it touches.
        count = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, ngettext("Paused %(count)d chrono.", "Paused %(count)d chronos.", count)
                          % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Resume"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset) -> None:
        resumed, done = [], []
        with transaction.atomic():
            for chrono in queryset.filter(is_active=False):
                try:
                    chrono.resume()
                except ChronoFinished:
                    done.append(chrono)  # a finished one-shot: resuming would fire it again at once
                else:
                    resumed.append(chrono)
        count = len(resumed)
        self.message_user(request, ngettext("Resumed %(count)d chrono.", "Resumed %(count)d chronos.", count)
                          % {"count": count}, messages.SUCCESS)
        if done:
            self.message_user(request, ngettext(
                "%(names)s is a one-shot that is done: give it a new schedule to run it again, or use Run now.",
                "%(names)s are one-shots that are done: give them a new schedule to run them again, or use Run now.",
                len(done)) % {"names": ", ".join(c.name for c in done)}, messages.WARNING)


from automations.routines import admin as routines_admin  # noqa: E402, F401 (registers the routines' rows)
