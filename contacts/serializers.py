from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from contacts import phones
from contacts.models import Contact, Tag


class TagNamesField(serializers.ListField):
    """Tags as a list of names; a name not yet used creates its tag."""

    child = serializers.CharField(max_length=64)

    def to_representation(self, value) -> list[str]:
        return sorted(tag.name for tag in value.all())


class ContactSerializer(serializers.ModelSerializer):
    """A contact. ``phone`` is accepted as people write it and stored canonical; consent changes
    only through the opt-out / opt-in actions, which keep the audit."""

    phone = serializers.CharField(max_length=32, required=False, allow_null=True,
                                  help_text=_("Any written form, e.g. +55 (11) 98888-7777; stored as E.164 digits."))
    tags = TagNamesField(required=False, help_text=_("Tag names; missing tags are created."))

    class Meta:
        model = Contact
        fields = ["id", "phone", "chat_id", "lid", "name", "custom_fields", "tags", "timezone", "birth_date",
                  "first_contact_at",
                  "last_message_at", "opted_out", "opted_out_at", "opted_out_reason", "on_whatsapp", "checked_at",
                  "created_at", "updated_at"]
        read_only_fields = ["chat_id", "lid", "first_contact_at", "last_message_at", "opted_out", "opted_out_at",
                            "opted_out_reason", "on_whatsapp", "checked_at", "created_at", "updated_at"]

    def validate_phone(self, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            phone = phones.canonical(value, settings.CONTACTS_DEFAULT_COUNTRY_CODE)
        except phones.InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from None
        others = Contact.objects.filter(phone=phone).exclude(pk=getattr(self.instance, "pk", None))
        if others.exists():
            raise serializers.ValidationError(_("Another contact has this number: +%(phone)s.") % {"phone": phone})
        return phone

    def validate_custom_fields(self, value) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Give an object of names and values, e.g. {\"cpf\": \"123\"}."))
        return value

    def validate(self, attrs: dict) -> dict:
        phone = attrs.get("phone", getattr(self.instance, "phone", None))
        if not phone and not getattr(self.instance, "lid", None):
            raise serializers.ValidationError({"phone": [_("A contact needs a phone number.")]})
        return attrs

    def create(self, validated_data: dict) -> Contact:
        tags = validated_data.pop("tags", None)
        contact = super().create(validated_data)
        self._set_tags(contact, tags)
        return contact

    def update(self, instance: Contact, validated_data: dict) -> Contact:
        tags = validated_data.pop("tags", None)
        contact = super().update(instance, validated_data)
        self._set_tags(contact, tags)
        return contact

    def _set_tags(self, contact: Contact, names: list[str] | None) -> None:
        if names is not None:
            contact.tags.set([Tag.objects.get_or_create(name=name.strip())[0] for name in names if name.strip()])


class ConsentSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                   help_text=_("Why, for the audit (e.g. 'asked by phone')."))


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("A CSV file, UTF-8, its first row naming the columns."))
    map = serializers.CharField(required=False, allow_blank=True, default="",
                                help_text=_("field=Column pairs, e.g. phone=Telefone,name=Nome,custom.cpf=CPF."))
    dry_run = serializers.BooleanField(required=False, default=False, help_text=_("Report only; write nothing."))
    tag = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list,
                                help_text=_("Tags given to every imported contact."))
    partial = serializers.BooleanField(required=False, default=False,
                                       help_text=_("Import the good rows even when some are bad."))

    def validate_file(self, value):
        if value.size > settings.CONTACTS_IMPORT_MAX_BYTES:
            raise serializers.ValidationError(
                _("Too large: %(size)d bytes; the limit is %(limit)d (CONTACTS_IMPORT_MAX_BYTES).")
                % {"size": value.size, "limit": settings.CONTACTS_IMPORT_MAX_BYTES})
        return value


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row as a spreadsheet numbers it (the header is row 1)."))
    field = serializers.CharField()
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    written = serializers.BooleanField(help_text=_("Whether anything was written (false for a dry run or a refused file)."))
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    merged = serializers.IntegerField(help_text=_("Rows folded into an earlier row naming the same person."))
    error_count = serializers.IntegerField()
    errors = RowErrorSerializer(many=True, help_text=_("The first 1,000 errors."))
