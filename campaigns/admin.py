"""Campaigns in the admin: progress (counts per state and a bar), the ledger as a linked list,
and actions (start, pause, resume, cancel, retry failed, export CSV, preview)."""

from django.contrib import admin, messages
from urllib.parse import urlencode

from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from campaigns import ledger, sending
from campaigns.models import Campaign, CampaignRecipient
from campaigns.preview import preview

BAR_COLOURS = {"sent": "#79aec8", "delivered": "#417690", "read": "#264b5d", "replied": "#2e7d32",
               "failed": "#ba2121", "unconfirmed": "#e0a800", "suppressed": "#999", "not_on_whatsapp": "#bbb",
               "cancelled": "#ddd"}


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "status", "send_at", "progress_bar", "state_counts"]
    list_filter = ["status", "channel"]
    search_fields = ["name", "message"]
    filter_horizontal = ["tags"]
    actions = ["start", "pause", "resume", "cancel", "retry_failed", "export_csv", "show_preview", "repeat_on_schedule"]
    readonly_fields = ["status", "progress_bar", "state_counts", "ledger_link", "started_at", "finished_at",
                       "last_error", "copied_from", "occurrence", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "channel", "message"]}),
        (_("Attachment"), {"fields": ["attachment_kind", "attachment_url", "attachment_file", "attachment_filename",
                                      "attachment_mimetype"],
                           "description": _("One file sent to each recipient, the message being its caption.")}),
        (_("Audience and time"), {"fields": ["tags", "send_at"]}),
        (_("Progress"), {"fields": ["status", "progress_bar", "state_counts", "ledger_link", "started_at",
                                    "finished_at", "last_error", "copied_from", "occurrence"]}),
    ]

    @admin.display(description=_("progress"))
    def progress_bar(self, campaign: Campaign) -> str:
        counts = campaign.counts()
        total = sum(counts.values())
        if not total:
            return "—"
        parts = format_html_join("", '<span title="{}: {}" style="display:inline-block;height:10px;width:{}%;'
                                 'background:{}"></span>',
                                 ((CampaignRecipient.State(state).label, n, round(100 * n / total, 2), colour)
                                  for state, colour in BAR_COLOURS.items() if (n := counts[state])))
        return format_html('<div style="width:220px;background:#eee;display:flex">{}</div>{}%', parts,
                           campaign.progress(counts)["percent"])

    @admin.display(description=_("counts"))
    def state_counts(self, campaign: Campaign) -> str:
        counts = campaign.counts()
        return ", ".join(f"{CampaignRecipient.State(state).label}: {n}" for state, n in counts.items() if n) or "—"

    @admin.display(description=_("ledger"))
    def ledger_link(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "—"
        url = reverse("admin:campaigns_campaignrecipient_changelist") + f"?campaign__id__exact={campaign.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Every recipient of this campaign"))

    def _each(self, request, queryset, change, done_text) -> None:
        done = 0
        for campaign in queryset:
            try:
                change(campaign)
                done += 1
            except sending.NotAllowed as refused:
                self.message_user(request, f"{campaign}: {refused}", messages.WARNING)
        if done:
            self.message_user(request, done_text % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Start the selected campaigns"))
    def start(self, request, queryset) -> None:
        self._each(request, queryset, sending.start, _("Started (or scheduled) %(count)d campaign(s)."))

    @admin.action(description=_("Pause the selected campaigns"))
    def pause(self, request, queryset) -> None:
        self._each(request, queryset, sending.pause, _("Paused %(count)d campaign(s)."))

    @admin.action(description=_("Resume the selected campaigns"))
    def resume(self, request, queryset) -> None:
        self._each(request, queryset, sending.resume, _("Resumed %(count)d campaign(s)."))

    @admin.action(description=_("Cancel the selected campaigns"))
    def cancel(self, request, queryset) -> None:
        self._each(request, queryset, sending.cancel, _("Cancelled %(count)d campaign(s)."))

    @admin.action(description=_("Retry the failed sends of the selected campaigns"))
    def retry_failed(self, request, queryset) -> None:
        total = 0
        for campaign in queryset:
            try:
                total += sending.retry_failed(campaign)
            except sending.NotAllowed as refused:
                self.message_user(request, f"{campaign}: {refused}", messages.WARNING)
        self.message_user(request, _("%(count)d failed send(s) queued again.") % {"count": total}, messages.SUCCESS)

    def _only_one(self, request, queryset, refusal: str) -> Campaign | None:
        """The one campaign an action works on; None (and ``refusal`` shown) when not exactly one is selected."""
        if queryset.count() != 1:
            self.message_user(request, refusal, messages.ERROR)
            return None
        return queryset.get()

    @admin.action(description=_("Repeat on a schedule (a CAMPAIGN chrono sends a copy at each occurrence)"))
    def repeat_on_schedule(self, request, queryset):
        """The new chrono's form, already naming this campaign: the operator sets the schedule and saves."""
        campaign = self._only_one(request, queryset, _("Select one campaign to repeat."))
        if campaign is None:
            return None
        if campaign.status != Campaign.Status.DRAFT:
            self.message_user(request, _("Only a draft can be repeated: each occurrence sends a copy of it, and "
                                         "the draft itself stays unsent. %(campaign)s is %(status)s.")
                              % {"campaign": campaign, "status": campaign.get_status_display()}, messages.ERROR)
            return None
        query = urlencode({"target_type": "CAMPAIGN", "campaign": campaign.pk, "name": campaign.name})
        return HttpResponseRedirect(reverse("admin:automations_chrono_add") + "?" + query)

    @admin.action(description=_("Export the ledger as CSV"))
    def export_csv(self, request, queryset):
        campaign = self._only_one(request, queryset, _("Select one campaign to export."))
        if campaign is None:
            return None
        response = StreamingHttpResponse(ledger.csv_lines(campaign.recipients.all()), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-ledger.csv"'
        return response

    @admin.action(description=_("Preview the message (sends nothing)"))
    def show_preview(self, request, queryset) -> None:
        for campaign in queryset[:5]:
            shown = preview(campaign, first=3)
            samples = " | ".join(f"{s['name'] or s['phone']}: {s['text']}" for s in shown["samples"])
            if shown["attachment"]:
                samples = _("Attachment: %(kind)s “%(filename)s”, the text as its caption.") % {
                    "kind": shown["attachment"]["kind_display"], "filename": shown["attachment"]["filename"]
                } + " " + samples
            self.message_user(request, _("%(campaign)s: %(total)d recipients, %(send)d would be sent, %(suppressed)d "
                                         "suppressed (opted out), %(missing)d not on WhatsApp. %(samples)s") % {
                "campaign": campaign, "total": shown["total"], "send": shown["would_send"],
                "suppressed": shown["suppressed"], "missing": shown["not_on_whatsapp"], "samples": samples},
                messages.INFO)


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ["contact", "campaign", "state", "reason", "attempt", "chat_id", "sent_at", "delivered_at",
                    "read_at", "replied_at"]
    list_filter = ["state", "campaign"]
    search_fields = ["contact__name", "contact__phone", "chat_id", "text"]
    list_select_related = ["contact", "campaign"]
    readonly_fields = [f.name for f in CampaignRecipient._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
