"""Admin of runs: the read-only run page (pretty result, attempts table, messages sent, Retry) and the runs inline.

automations/admin.py registers ChronoAdmin with the inline; this module registers ChronoRunAdmin.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from automations.admin_display import EMPTY, attempts_table, local_time_html, pretty_json
from automations.admin_rows import ListedFieldsOnly, admin_url
from automations.dashboard import status_badge
from automations.models import Chrono, ChronoRun
from chronoflow.paginators import EstimatedCountPaginator

RUNS_INLINE_LIMIT = 20
RETRYABLE = (ChronoRun.Status.FAILED, ChronoRun.Status.TIMEOUT)


def run_url(run: ChronoRun) -> str:
    return admin_url("automations_chronorun_change", run.pk)


def runs_changelist_url(chrono: Chrono) -> str:
    return f"{admin_url('automations_chronorun_changelist')}?chrono__id__exact={chrono.pk}"


def run_links(runs: list[ChronoRun]) -> SafeString:
    return format_html_join(", ", '<a href="{}">#{}</a>', ((run_url(run), run.pk) for run in runs))


def can_run(request: HttpRequest) -> bool:
    """Run now and Retry start a chrono: the permission to change chronos, as the list action and the API ask."""
    return request.user.has_perm("automations.change_chrono")


def start_run(request: HttpRequest, chrono: Chrono, trigger: str, input=None) -> HttpResponseRedirect:
    """Start a run of ``chrono`` (through Chrono.trigger), say so with a link, and open the new run's page."""
    with transaction.atomic():
        run = chrono.trigger(trigger, input=input)
    messages.success(request, format_html(
        gettext('Run <a href="{}">#{}</a> of “{}” is queued; this page refreshes until it finishes.'),
        run_url(run), run.pk, chrono.name))
    return HttpResponseRedirect(run_url(run))


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
    # Lazy as a whole: "%" on a lazy string translates it at once, at import, in the default language.
    verbose_name_plural = lazy(lambda: gettext("Latest runs (newest first, up to %(limit)d)")
                               % {"limit": RUNS_INLINE_LIMIT}, str)()
    fields = readonly_fields = [
        "run_link", "scheduled", "trigger", "run_status", "attempt", "duration_ms", "http_status", "error_message",
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
        return format_html('<a href="{}">#{}</a>', run_url(run), run.pk)

    @admin.display(description=_("Scheduled for"))
    def scheduled(self, run: ChronoRun) -> str:
        return local_time_html(run.scheduled_for)  # the operator's zone

    @admin.display(description=_("Status"))
    def run_status(self, run: ChronoRun) -> str:
        return status_badge(run.status, run.get_status_display())


@admin.register(ChronoRun)
class ChronoRunAdmin(ListedFieldsOnly, admin.ModelAdmin):
    """Runs are written by the workers only: operators read them (and may delete history), and retry failed ones."""

    list_display = [
        "id", "chrono_link", "scheduled", "trigger", "run_status", "attempt", "duration_ms", "http_status",
    ]
    # A date filter, not date_hierarchy: the hierarchy reads the distinct days of every run.
    list_filter = ["status", "trigger", "chrono__target_type", "scheduled_for"]
    search_fields = ["chrono__name"]
    paginator = EstimatedCountPaginator  # millions of runs: no exact counts (chronoflow/paginators.py)
    show_full_result_count = False
    list_per_page = 50
    list_select_related = ["chrono"]
    # What list_display and ChronoRun.__str__ (the checkbox's label) read.
    list_fields = ("chrono__name", "scheduled_for", "trigger", "status", "attempt", "duration_ms", "http_status")
    fields = [
        "chrono_link", "scheduled", "trigger", "run_status", "attempt", "started", "finished",
        "duration_ms", "http_status", "response_snippet", "error_message", "messages_sent", "result_json",
        "input_json", "attempts_table", "created",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChronoRun | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("chrono")

    def get_urls(self):
        retry = path("<path:object_id>/retry/", self.admin_site.admin_view(self.retry_view),
                     name="automations_chronorun_retry")
        return [retry, *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {"run": run, "can_retry": run is not None and run.status in RETRYABLE and can_run(request)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def retry_view(self, request: HttpRequest, object_id: str):
        """POST: a new run of a failed run's chrono (trigger "retry", the same input); opens the new run."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_run(request):
            raise PermissionDenied
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(gettext("No run with id %(id)s.") % {"id": object_id})
        if run.status not in RETRYABLE:
            self.message_user(request, gettext("Run #%(id)s is %(status)s: only failed or timed-out runs are retried.")
                              % {"id": run.pk, "status": run.get_status_display()}, messages.ERROR)
            return HttpResponseRedirect(run_url(run))
        return start_run(request, run.chrono, ChronoRun.Trigger.RETRY, input=run.input)

    # --- Read-only displays, times in the operator's zone to the second ------------------------

    @admin.display(description=_("Status"), ordering="status")
    def run_status(self, run: ChronoRun) -> str:
        return status_badge(run.status, run.get_status_display())

    @admin.display(description=_("Chrono"), ordering="chrono__name")
    def chrono_link(self, run: ChronoRun) -> str:
        return format_html('<a href="{}">{}</a>', admin_url("automations_chrono_change", run.chrono_id), run.chrono)

    @admin.display(description=_("Scheduled for"), ordering="scheduled_for")
    def scheduled(self, run: ChronoRun) -> str:
        return local_time_html(run.scheduled_for)

    @admin.display(description=_("Started at"))
    def started(self, run: ChronoRun) -> str:
        return local_time_html(run.started_at)

    @admin.display(description=_("Finished at"))
    def finished(self, run: ChronoRun) -> str:
        return local_time_html(run.finished_at)

    @admin.display(description=_("Created at"))
    def created(self, run: ChronoRun) -> str:
        return local_time_html(run.created_at)

    @admin.display(description=_("Result"))
    def result_json(self, run: ChronoRun) -> str:
        return pretty_json(run.result)

    @admin.display(description=_("Input"))
    def input_json(self, run: ChronoRun) -> str:
        return pretty_json(run.input)

    @admin.display(description=_("Attempts"))
    def attempts_table(self, run: ChronoRun) -> str:
        return attempts_table(run.attempts)

    @admin.display(description=_("WhatsApp messages sent"))
    def messages_sent(self, run: ChronoRun) -> str:
        sent = list(run.messages.select_related("channel").order_by("created_at")[:50])
        if not sent:
            return EMPTY
        rows = ((message.chat_id, message.get_status_display(), message.channel.name, message.text) for message in sent)
        count = len(sent)
        return format_html(
            '<p>{}</p><table class="cf-attempts cf-messages"><tbody>{}</tbody></table>',
            ngettext("%(n)d message", "%(n)d messages", count) % {"n": count},
            format_html_join("", '<tr><td>{}</td><td>{}</td><td>{}</td><td class="cf-error">{}</td></tr>', rows))
