from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from chronoflow.forms import PrettyJSONField
from chronoflow.timefmt import local_time
from whatsapp import media as media_files
from whatsapp import outbox
from whatsapp.models import Channel, ChannelStatusChange, Message, MonitorAction, WebhookEvent, current_provider
from whatsapp.simulate import MAX_TEXT, NotSimulable, simulate_inbound
from whatsapp.waha import WahaError

DEV_NOTE = _("WAHA_BASE_URL is not set, so this is a development channel — not WhatsApp: its session works at "
             "once, messages it sends are only recorded and logged, and inbound messages are simulated from "
             "its page. Set WAHA_BASE_URL (and WAHA_API_KEY) to connect a real WhatsApp account.")


class ChannelAddForm(forms.ModelForm):
    """Adding a channel creates and starts its WAHA session; WAHA's refusal is a form error."""

    class Meta:
        model = Channel
        fields = ["name", "session_name", "should_run"]
        labels = {"should_run": _("Start the session now")}

    def _post_clean(self) -> None:
        # After Django's own checks (the session name is unique here), before any save:
        # WAHA goes first so that its refusal leaves no channel behind.
        super()._post_clean()
        if self.errors:
            return
        self.instance.provider = current_provider()  # a channel keeps the provider it was created with
        try:
            self.instance.create_session(start=self.instance.should_run)
        except WahaError as exc:
            self.add_error(None, _("WAHA did not create the session: %(error)s") % {"error": exc})


class SimulateMessageForm(forms.Form):
    sender = forms.CharField(label=_("From"), max_length=64, initial="+55 11 99999-9999",
                             help_text=_("The contact's phone number, with country code."))
    text = forms.CharField(max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}), initial="menu",
                           help_text=_("What the contact writes; message triggers match on it."))


def dev_badge(channel: Channel) -> str:
    if not channel.is_dev:
        return format_html("{}", channel.get_provider_display())
    return format_html('<span class="cf-dev-badge" style="background:#b45309;color:#fff;padding:2px 6px;'
                       'border-radius:4px;font-weight:bold;white-space:nowrap">{}</span>',
                       _("Development channel — not WhatsApp"))  # whatsapp/devclient.py's LABEL, translated


class PairingCodeForm(forms.Form):
    phone_number = forms.CharField(max_length=32, help_text=_("With country code, e.g. +55 11 99999-9999."))


class StatusChangeInline(admin.TabularInline):
    model = ChannelStatusChange
    fields = ["at", "previous_status", "status", "source", "detail"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-at", "-pk"]
    verbose_name_plural = _("Status history")


class ChannelChangeForm(forms.ModelForm):
    """A saved channel: its send limits as an indented JSON box, empty when there are none (not "{}")."""

    send_limits = PrettyJSONField(label=capfirst(Channel._meta.get_field("send_limits").verbose_name), shape=dict,
                                  help_text=Channel._meta.get_field("send_limits").help_text)

    class Meta:
        model = Channel
        fields = "__all__"

    def clean_send_limits(self) -> dict:
        return self.cleaned_data["send_limits"] or {}  # an emptied box means no overrides


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "session_name", "provider_badge", "status", "connected_as", "should_run", "status_changed_at", "qr_link"]
    list_filter = ["provider", "status", "should_run"]
    search_fields = ["name", "session_name"]
    actions = ["start_sessions", "stop_sessions", "restart_sessions", "logout_sessions", "refresh_statuses",
               "resume_outreach"]
    inlines = [StatusChangeInline]
    readonly_fields = ["provider_badge", "session_name", "simulate_link", "status", "status_changed_at", "connected_as",
                       "should_run", "last_error", "restart_attempts", "next_restart_at", "qr_link", "governor_state",
                       "created_at", "updated_at"]
    fields = ["name", "send_profile", "send_limits", *readonly_fields]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = ChannelAddForm if obj is None else ChannelChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return super().get_fieldsets(request, obj)
        note = DEV_NOTE if current_provider() == Channel.Provider.DEV else ""
        return [(None, {"fields": ChannelAddForm.Meta.fields, "description": note})]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj: Channel, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:  # the add form already created the session in WAHA
            obj.record_status_change("", obj.status, obj.status_changed_at, ChannelStatusChange.Source.CREATE)

    def delete_model(self, request, obj: Channel) -> None:
        self._delete_session(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for channel in queryset:
            self._delete_session(request, channel)
        super().delete_queryset(request, queryset)

    def _delete_session(self, request: HttpRequest, channel: Channel) -> None:
        # The operator asked for the channel to go: it goes, and a WAHA failure is reported
        # so the left-over session can be removed by hand (its webhooks now get 401).
        try:
            channel.delete_session()
        except WahaError as exc:
            self.message_user(request, _("The WAHA session %(session)s could not be removed: %(error)s")
                              % {"session": channel.session_name, "error": exc},
                              messages.WARNING)

    @admin.display(description=_("Send governor"))
    def governor_state(self, obj: Channel) -> str:
        if obj.pk is None:
            return ""
        state = outbox.status(obj)
        if not state["governed"]:
            return _("Not governed: sends go at once.")
        budget = _("no daily cap") if state["budget_left_24h"] is None else \
            _("%(n)s left") % {"n": state["budget_left_24h"]}
        new = "" if state["new_contact_budget_left_24h"] is None else \
            ", " + _("%(n)s first contacts left") % {"n": state["new_contact_budget_left_24h"]}
        paused = " " + _("Outreach paused: %(why)s") % {"why": state["paused_because"]} if state["paused_because"] else ""
        return format_html(_("{} sent in the last 24 h ({}{}); {} queued, next at {}.{}"), state["sent_24h"], budget, new,
                           state["queued"], local_time(state["next_send_at"], empty="—"), paused)

    @admin.action(description=_("Resume outreach to new contacts (after a ban signal)"))
    def resume_outreach(self, request, queryset):
        for channel in queryset:
            channel.resume_outreach()
        self.message_user(request, _("Outreach resumed on %(count)d channel(s).") % {"count": queryset.count()}, messages.SUCCESS)

    @admin.display(description=_("Connected as"))
    def connected_as(self, obj: Channel) -> str:
        return obj.connected_as or "—"  # Channel.connected_as is a property: labelled here, translated

    @admin.display(description=_("Provider"))
    def provider_badge(self, obj: Channel) -> str:
        return dev_badge(obj)

    @admin.display(description=_("Simulate"))
    def simulate_link(self, obj: Channel) -> str:
        if obj.pk is None or not obj.is_dev:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:whatsapp_channel_simulate", args=[obj.pk]),
                           _("Simulate an inbound message"))

    @admin.display(description=_("QR / login"))
    def qr_link(self, obj: Channel) -> str:
        if obj.pk is None:
            return ""
        return format_html('<a href="{}">{}</a>', reverse("admin:whatsapp_channel_qr", args=[obj.pk]), _("QR / pairing"))

    # --- Session actions -------------------------------------------------------------------

    def _each(self, request: HttpRequest, queryset, method: str, done: str) -> None:
        ok, failures = 0, []
        for channel in queryset:
            try:
                getattr(channel, method)(source=ChannelStatusChange.Source.ADMIN)
                ok += 1
            except WahaError as exc:
                failures.append(f"{channel.session_name}: {exc}")
        if ok:
            self.message_user(request, _("%(count)d channel(s) %(done)s.") % {"count": ok, "done": done}, messages.SUCCESS)
        for failure in failures:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description=_("Start the WAHA session"))
    def start_sessions(self, request, queryset):
        self._each(request, queryset, "start", _("started"))

    @admin.action(description=_("Stop the WAHA session"))
    def stop_sessions(self, request, queryset):
        self._each(request, queryset, "stop", _("stopped"))

    @admin.action(description=_("Restart the WAHA session"))
    def restart_sessions(self, request, queryset):
        self._each(request, queryset, "restart", _("restarted"))

    @admin.action(description=_("Log out (unlink the phone; a new QR is needed)"))
    def logout_sessions(self, request, queryset):
        self._each(request, queryset, "logout", _("logged out"))

    @admin.action(description=_("Refresh the status from WAHA"))
    def refresh_statuses(self, request, queryset):
        self._each(request, queryset, "refresh_status", _("refreshed"))

    # --- QR page ---------------------------------------------------------------------------

    def get_urls(self):
        own = [
            path("<path:object_id>/qr/", self.admin_site.admin_view(self.qr_view), name="whatsapp_channel_qr"),
            path("<path:object_id>/qr/state/", self.admin_site.admin_view(self.qr_state_view),
                 name="whatsapp_channel_qr_state"),
            path("<path:object_id>/simulate/", self.admin_site.admin_view(self.simulate_view),
                 name="whatsapp_channel_simulate"),
        ]
        return own + super().get_urls()

    def _channel_or_404(self, request: HttpRequest, object_id: str) -> Channel:
        channel = self.get_object(request, object_id)
        if channel is None or not self.has_view_permission(request, channel):
            raise Http404("No such channel.")
        return channel

    def qr_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The login page: QR while SCAN_QR_CODE (refreshing itself), the account once WORKING."""
        channel = self._channel_or_404(request, object_id)
        form = PairingCodeForm(request.POST or None)
        code = ""
        if request.method == "POST":
            if not self.has_change_permission(request, channel):
                raise Http404("No such channel.")
            code = self._pairing_code(request, channel, form)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Log in: %(name)s") % {"name": channel.name},
            "opts": self.model._meta,
            "original": channel,
            "channel": channel,
            "state": channel.login_state(),
            "badge": dev_badge(channel),
            "form": form,
            "code": code,
            "state_url": reverse("admin:whatsapp_channel_qr_state", args=[channel.pk]),
        }
        return TemplateResponse(request, "admin/whatsapp/channel/qr.html", context)

    def _pairing_code(self, request: HttpRequest, channel: Channel, form: PairingCodeForm) -> str:
        if not form.is_valid():
            return ""
        try:
            return channel.request_pairing_code(form.cleaned_data["phone_number"])
        except ValueError as exc:
            form.add_error("phone_number", str(exc))
        except WahaError as exc:
            form.add_error(None, _("WAHA did not give a pairing code: %(error)s") % {"error": exc})
        return ""

    def simulate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Development channels: a contact "writes" (the webhook's path), and the latest messages both ways."""
        channel = self._channel_or_404(request, object_id)
        if not channel.is_dev or not self.has_change_permission(request, channel):
            raise Http404(_("Inbound messages can be simulated only on a development channel."))
        form = SimulateMessageForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                event = simulate_inbound(channel, form.cleaned_data["sender"], form.cleaned_data["text"])
            except NotSimulable as exc:
                form.add_error(exc.field or None, str(exc))
            else:
                self.message_user(request, _("Simulated message from %(sender)s received (event %(event)s); "
                                             "replies appear below once processed.")
                                  % {"sender": event.payload["payload"]["from"], "event": event.event_id},
                                  messages.SUCCESS)
                return redirect(request.path)
        context = {**self.admin_site.each_context(request), "title": _("Simulate an inbound message: %(name)s") % {"name": channel.name},
                   "opts": self.model._meta, "original": channel, "channel": channel, "form": form,
                   "badge": dev_badge(channel), "recent": channel.messages.order_by("-created_at", "-pk")[:10]}
        return TemplateResponse(request, "admin/whatsapp/channel/simulate.html", context)

    def qr_state_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """What the QR page polls: status, QR (data URI) and account, as JSON."""
        channel = self._channel_or_404(request, object_id)
        return JsonResponse(channel.login_state())


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "direction", "chat_id", "short_text", "status", "run"]
    list_filter = ["direction", "status", "channel"]
    search_fields = ["chat_id", "text", "waha_message_id", "recipient", "sender"]
    list_select_related = ["channel"]
    raw_id_fields = ["run"]
    readonly_fields = ["media_preview"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("Text"))
    def short_text(self, obj: Message) -> str:
        return obj.text[:60]

    @admin.display(description=_("Media file"))
    def media_preview(self, obj: Message) -> str:
        """A link to the stored file through the admin (MEDIA_URL serves nothing), and images inline."""
        if not obj.media_file:
            return (obj.media or {}).get("download_error") or "—"
        url = reverse("admin:whatsapp_message_media", args=[obj.pk])
        if (obj.media or {}).get("mimetype") in media_files.INLINE_TYPES and obj.media["mimetype"].startswith("image/"):
            return format_html('<a href="{}"><img src="{}" alt="" style="max-width:320px;max-height:320px"></a>',
                               url, url)
        return format_html('<a href="{}">Download ({} bytes)</a>', url, (obj.media or {}).get("size") or "?")

    def get_urls(self):
        own = [path("<path:object_id>/media/", self.admin_site.admin_view(self.media_view),
                    name="whatsapp_message_media")]
        return own + super().get_urls()

    def media_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The stored media of one message, for staff who may view messages."""
        message = self.get_object(request, object_id)
        if message is None or not self.has_view_permission(request, message):
            raise Http404("No such message.")
        response = message.media_response()
        if response is None:
            raise Http404("This message has no stored media.")
        return response


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "channel", "event", "event_id", "processed_at", "error"]
    list_filter = ["event", "channel"]
    search_fields = ["event_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MonitorAction)
class MonitorActionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "action", "detail"]
    list_filter = ["action", "channel"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
