"""The chrono form of the admin: one fieldset per target, readable boxes for headers, payload and recipients.

Only the chosen target's fields are shown (static/automations/chrono_form.js) and checked:
what a hidden fieldset still holds is neither validated nor changed on save.
"""

import re
from functools import lru_cache
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from automations.models import Chrono
from automations.serializers import SECRET_MAPPINGS
from chronoflow import secrets
from chronoflow.forms import PrettyJSONField

# The fields each target reads; the channel serves MESSAGE, FUNCTION's ctx.message, ASSISTANT and ROUTINE.
TARGET_FIELDS = {
    Chrono.TargetType.HTTP: ("method", "url", "headers", "payload", "timeout_ms"),
    Chrono.TargetType.MESSAGE: ("channel", "message_template", "recipients", "attachment_kind", "attachment_url",
                                "attachment_file", "attachment_filename", "attachment_mimetype"),
    Chrono.TargetType.FUNCTION: ("channel", "function", "extras"),
    Chrono.TargetType.ASSISTANT: ("channel", "assistant"),
    Chrono.TargetType.ROUTINE: ("channel", "routine", "extras"),
    Chrono.TargetType.CAMPAIGN: ("extras",),
}
ALL_TARGET_FIELDS = frozenset(name for names in TARGET_FIELDS.values() for name in names)


def target_fieldset_classes(*target_types: str) -> list[str]:
    """The classes chrono_form.js reads: the fieldset shows while one of these targets is chosen."""
    return ["cf-target", *(f"cf-target-{t}" for t in target_types)]


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones() - {"localtime", "Factory"}))


def timezone_choices(current: str = "") -> list[tuple[str, str]]:
    """Every IANA zone, the deployment's default and São Paulo first; an unlisted current value kept."""
    first = list(dict.fromkeys([settings.DEFAULT_TIMEZONE, "America/Sao_Paulo"]))
    names = [*first, *(name for name in _zone_names() if name not in first)]
    if current and current not in names:
        names.insert(0, current)
    return [(name, name) for name in names]


class HeadersField(forms.Field):
    """HTTP headers one per line, as they travel: ``Name: value``."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "cf-lines vLargeTextField", "spellcheck": "false",
                                   "placeholder": "Authorization: Bearer …\nX-Tenant: loja-1"})

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value) -> str:
        if isinstance(value, dict):
            return "\n".join(f"{name}: {text}" for name, text in value.items())
        return value or ""

    def to_python(self, value) -> dict:
        if isinstance(value, dict):
            return value
        headers, problems = {}, []
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, text = line.partition(":")
            if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name.strip()):
                problems.append(_("Line %(n)d is not “Name: value”: %(line)s") % {"n": number, "line": line.strip()})
                continue
            headers[name.strip()] = text.strip()
        if problems:
            raise forms.ValidationError(problems, code="headers")
        return headers


class LinesField(forms.Field):
    """A list of texts, one per line (commas and semicolons separate too)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40, "class": "cf-lines", "spellcheck": "false",
                                   "placeholder": "5511999998888\n5521988887777@c.us"})

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value) -> str:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value or ""

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        return [item.strip() for item in re.split(r"[\n,;]", value or "") if item.strip()]


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
    timezone = forms.ChoiceField(label=_("Time zone"), help_text=_("The zone the schedule is read in."))
    headers = HeadersField(label=_("Headers"), help_text=_(
        "One per line, “Name: value”. Values of secret-looking names (Authorization, tokens, keys) "
        "are shown as ******** and kept while left so."))
    payload = PrettyJSONField(label=_("Payload"), empty_values_shown=(None,), help_text=_(
        "The JSON body sent, with {{ … }} placeholders (run, chrono, input). Empty: no body."))
    recipients = LinesField(label=_("Recipients"), help_text=_(
        "One per line: a phone number with country code (5511999998888), a chat id (…@c.us, …@g.us) "
        "or a placeholder such as {{ input.from }}."))
    extras = PrettyJSONField(label=_("Extras"), shape=dict, help_text=_(
        'A JSON object. FUNCTION: what the function reads as ctx.env, e.g. {"API_KEY": "…"} (values of '
        'secret-looking names are shown as ********). ROUTINE: its texts and options. CAMPAIGN: '
        '{"campaign": <the id of the draft campaign to copy>}.'))

    class Meta:
        model = Chrono
        fields = "__all__"
        widgets = {"attachment_file": StoredFileInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._offer_allowed_methods()
        self.fields["timezone"].choices = timezone_choices(self.instance.timezone or "")
        self._help_with_actual_values()
        secrets.mask_form_initial(self, SECRET_MAPPINGS)  # write-only secrets (chronoflow/secrets.py)

    def _offer_allowed_methods(self) -> None:
        # Chrono.clean() still refuses a method outside ALLOWED_METHODS (the API gets the same message);
        # a stored one that is no longer allowed stays visible instead of silently turning into another.
        choices = [(m, m) for m in settings.ALLOWED_METHODS]
        if self.instance.method and self.instance.method not in settings.ALLOWED_METHODS:
            choices.append((self.instance.method, self.instance.method))
        self.fields["method"].widget = forms.Select(choices=choices)

    def _help_with_actual_values(self) -> None:
        texts = {
            "method": _("Allowed here: %(methods)s (ALLOWED_METHODS).") % {"methods": ", ".join(settings.ALLOWED_METHODS)},
            "timeout_ms": _("Milliseconds, at most 900000 (15 minutes). Empty: %(ms)d ms (HTTP_REQUEST_TIMEOUT_MS).")
            % {"ms": settings.HTTP_REQUEST_TIMEOUT_MS},
            "max_attempts": _("Tries per run, the first included. Empty: %(n)d (RUN_MAX_ATTEMPTS).")
            % {"n": settings.RUN_MAX_ATTEMPTS},
            "backoff_ms": _("Wait before the second try, doubling for each further one. Empty: %(ms)d ms (RUN_BACKOFF_MS).")
            % {"ms": settings.RUN_BACKOFF_MS},
            "url": _("http:// or https:// address the request is sent to."),
            "message_template": _("The text sent; Django template syntax, e.g. “Olá {{ input.name }}”."),
            "channel": _("The WhatsApp channel that sends (MESSAGE), that ctx.message uses (FUNCTION), "
                         "or that answers (ASSISTANT; empty: the one the message came in on)."),
        }
        for name, text in texts.items():
            if name in self.fields:
                self.fields[name].help_text = text

    def chosen_target(self) -> str:
        return (self.data.get(self.add_prefix("target_type")) if self.is_bound else None) or self.instance.target_type

    def clean(self) -> dict:
        cleaned = super().clean()
        self._ignore_other_targets(cleaned)
        # An emptied box means "none": store the field's empty default, not NULL.
        for name in ("headers", "recipients", "extras"):
            if name in cleaned and cleaned[name] is None:
                cleaned[name] = Chrono._meta.get_field(name).get_default()
        cleaned = secrets.keep_masked_in_form(self, cleaned, SECRET_MAPPINGS)
        return cleaned

    def _ignore_other_targets(self, cleaned: dict) -> None:
        """Fields of the targets not chosen: hidden, so their errors dropped and their stored values kept."""
        shown = set(TARGET_FIELDS.get(self.chosen_target(), ()))
        for name in ALL_TARGET_FIELDS - shown:
            if name not in self.fields:
                continue
            self.errors.pop(name, None)
            cleaned[name] = getattr(self.instance, name)
