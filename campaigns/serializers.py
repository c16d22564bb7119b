import copy

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from campaigns.models import Campaign, CampaignRecipient
from contacts.models import Tag
from contacts.serializers import TagNamesField


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign. It starts as a draft; ``start: true`` on create (or the admin's action) starts it."""

    tags = TagNamesField(required=False, help_text=_("Audience: contacts with any of these tags; empty: every contact."))
    start = serializers.BooleanField(write_only=True, required=False, default=False,
                                     help_text=_("Start it now (or schedule it, with a future send_at)."))
    # The stored name, not a MEDIA_URL link: nothing serves MEDIA_URL (uploads go to WAHA inline).
    attachment_file = serializers.FileField(required=False, allow_null=True, use_url=False,
                                            help_text=Campaign._meta.get_field("attachment_file").help_text)
    counts = serializers.SerializerMethodField(help_text=_("Ledger rows per state."))
    progress = serializers.SerializerMethodField(help_text=_("total, finished, percent."))

    class Meta:
        model = Campaign
        fields = ["id", "name", "channel", "message", "attachment_kind", "attachment_url", "attachment_file",
                  "attachment_filename", "attachment_mimetype", "tags", "send_at", "status", "start", "counts", "progress",
                  "started_at", "finished_at", "last_error", "created_at", "updated_at"]
        read_only_fields = ["status", "started_at", "finished_at", "last_error", "created_at", "updated_at"]

    def get_counts(self, campaign: Campaign) -> dict[str, int]:
        return campaign.counts()

    def get_progress(self, campaign: Campaign) -> dict:
        return campaign.progress()

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None and self.instance.status != Campaign.Status.DRAFT:
            raise serializers.ValidationError({"status": [_("Only a draft campaign can be changed.")]})
        campaign = copy.copy(self.instance) if self.instance is not None else Campaign()
        for name, value in attrs.items():  # the campaign these attrs describe, unsaved, checks itself
            if name not in ("tags", "start"):
                setattr(campaign, name, value)
        problems = campaign.problems()
        if problems:
            raise serializers.ValidationError(problems)
        return attrs

    def _save_tags(self, campaign: Campaign, names) -> None:
        if names is not None:
            campaign.tags.set([Tag.objects.get_or_create(name=name)[0] for name in names])

    def create(self, validated_data: dict) -> Campaign:
        names = validated_data.pop("tags", None)
        validated_data.pop("start", None)
        campaign = super().create(validated_data)
        self._save_tags(campaign, names)
        return campaign

    def update(self, instance: Campaign, validated_data: dict) -> Campaign:
        names = validated_data.pop("tags", None)
        validated_data.pop("start", None)
        campaign = super().update(instance, validated_data)
        self._save_tags(campaign, names)
        return campaign


class RecipientSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="contact.phone", read_only=True, allow_null=True)
    name = serializers.CharField(source="contact.name", read_only=True)
    waha_message_id = serializers.SerializerMethodField()

    class Meta:
        model = CampaignRecipient
        fields = ["id", "contact", "phone", "name", "chat_id", "state", "reason", "attempt", "text", "message",
                  "waha_message_id", "queued_at", "claimed_at", "sent_at", "delivered_at", "read_at", "replied_at"]
        read_only_fields = fields

    def get_waha_message_id(self, row: CampaignRecipient) -> str:
        return row.message.waha_message_id if row.message else ""


class PreviewQuerySerializer(serializers.Serializer):
    first = serializers.IntegerField(min_value=1, max_value=50, default=5,
                                     help_text=_("How many recipients' texts to render."))


class PreviewSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    would_send = serializers.IntegerField()
    suppressed = serializers.IntegerField(help_text=_("Opted out: would get a 'suppressed' row, no message."))
    not_on_whatsapp = serializers.IntegerField(help_text=_("Already known not to be on WhatsApp."))
    unchecked = serializers.IntegerField(help_text=_("Numbers check-exists will be asked about at their first send."))
    samples = serializers.ListField(child=serializers.DictField())
    attachment = serializers.DictField(allow_null=True, help_text=_(
        "The file each message carries (kind, kind_display, filename), its text the caption; null: text only."))


class ActionResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    count = serializers.IntegerField(help_text=_("Rows the action touched."))
