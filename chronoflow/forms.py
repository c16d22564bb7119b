"""Form fields the admin of more than one app uses."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _


class PrettyJSONField(forms.JSONField):
    """JSON in a monospaced box, shown indented; an empty value shows an empty box, not null, {} or []."""

    def __init__(self, *, shape: type | None = None, empty_values_shown=(None, {}, []), **kwargs) -> None:
        self.shape, self.empty_values_shown = shape, empty_values_shown
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6, "cols": 60, "class": "cf-json vLargeTextField",
                                                           "spellcheck": "false"}))
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value  # what was typed, as typed, beside its error
        if any(value == empty and type(value) is type(empty) for empty in self.empty_values_shown):
            return ""
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)

    def validate(self, value) -> None:
        super().validate(value)
        if value is not None and self.shape is dict and not isinstance(value, dict):
            raise forms.ValidationError(_('Write a JSON object, e.g. {"NAME": "value"}.'), code="shape")
