"""Contacts in the admin: search, filter by tag and consent, bulk tag, audited opt-out / opt-in,
and the LGPD actions (export as JSON, erase)."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from contacts import lgpd
from contacts.models import ConsentChange, Contact, Tag


class TagActionForm(ActionForm):
    tag = forms.CharField(label=_("Tag"), max_length=64, required=False,
                          help_text=_("For the tag actions: the tag to add or remove."))


class ConsentChangeInline(admin.TabularInline):
    model = ConsentChange
    fields = ["at", "opted_out", "how", "detail", "actor", "message", "confirmation_id", "confirmation_error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("Consent history")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "phone", "chat_id", "opted_out", "tag_list", "last_message_at"]
    list_filter = ["opted_out", "tags", "on_whatsapp"]
    search_fields = ["name", "phone", "chat_id", "lid"]
    filter_horizontal = ["tags"]
    action_form = TagActionForm
    actions = ["add_tag", "remove_tag", "opt_out", "opt_in", "export_data", "erase_data"]
    inlines = [ConsentChangeInline]
    readonly_fields = ["chat_id", "lid", "first_contact_at", "last_message_at", "opted_out", "opted_out_at",
                       "opted_out_reason", "on_whatsapp", "checked_at", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description=_("tags"))
    def tag_list(self, contact: Contact) -> str:
        return ", ".join(tag.name for tag in contact.tags.all())

    def _tag(self, request) -> Tag | None:
        name = (request.POST.get("tag") or "").strip()
        if not name:
            self.message_user(request, _("Write the tag in the Tag box beside the action."), messages.ERROR)
            return None
        return Tag.objects.get_or_create(name=name)[0]

    @admin.action(description=_("Add the tag to the selected contacts"))
    def add_tag(self, request, queryset) -> None:
        tag = self._tag(request)
        if tag:
            tag.contacts.add(*queryset)
            count = queryset.count()
            self.message_user(request, ngettext("Tagged %(count)d contact '%(tag)s'.", "Tagged %(count)d contacts '%(tag)s'.",
                                                count) % {"count": count, "tag": tag.name}, messages.SUCCESS)

    @admin.action(description=_("Remove the tag from the selected contacts"))
    def remove_tag(self, request, queryset) -> None:
        tag = self._tag(request)
        if tag:
            tag.contacts.remove(*queryset)
            self.message_user(request, _("Removed the tag '%(tag)s'.") % {"tag": tag.name}, messages.SUCCESS)

    def _consent(self, request, queryset, opted_out: bool) -> int:
        return sum(1 for contact in queryset
                   if contact.set_consent(opted_out, ConsentChange.How.ADMIN, actor=request.user.get_username()))

    @admin.action(description=_("Opt the selected contacts out (audited)"))
    def opt_out(self, request, queryset) -> None:
        count = self._consent(request, queryset, True)
        self.message_user(request, ngettext("Opted out %d contact.", "Opted out %d contacts.", count) % count)

    @admin.action(description=_("Opt the selected contacts back in (audited)"))
    def opt_in(self, request, queryset) -> None:
        count = self._consent(request, queryset, False)
        self.message_user(request, ngettext("Opted in %d contact.", "Opted in %d contacts.", count) % count)

    @admin.action(description=_("Export the selected contacts' data (LGPD, JSON)"))
    def export_data(self, request, queryset) -> HttpResponse:
        body = json.dumps([lgpd.export(contact) for contact in queryset], ensure_ascii=False, indent=2, default=str)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="contacts-data.json"'
        return response

    @admin.action(description=_("Erase the selected contacts' data (LGPD: contact, consent history, messages)"),
                  permissions=["delete"])
    def erase_data(self, request, queryset) -> None:
        count = sum(1 for contact in queryset if lgpd.erase(contact))
        self.message_user(request, ngettext("Erased %d contact's data.", "Erased %d contacts' data.", count) % count,
                          messages.SUCCESS)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(ConsentChange)
class ConsentChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "contact", "opted_out", "how", "detail", "actor"]
    list_filter = ["how", "opted_out"]
    search_fields = ["contact__name", "contact__phone", "detail"]
    readonly_fields = [f.name for f in ConsentChange._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # the audit is written by set_consent only

    def has_change_permission(self, request, obj=None) -> bool:
        return False
