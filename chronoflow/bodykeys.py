"""The keys of an API body: the original system's camelCase spelling, and keys that name no field.

Shared by every app's serializers: ``targetType`` is read as ``target_type``, and a key
that names no field is a 400 (a typo would otherwise be ignored).
"""

import re
from collections.abc import Mapping

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

# Keys of the original NestJS bodies whose snake_case spelling is not our field name.
CAMEL_ALIASES = {"cron": "schedule", "channel_id": "channel", "function_id": "function"}
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def field_name(key: str) -> str:
    """`targetType` → `target_type`, `cron` → `schedule`; snake_case keys pass unchanged."""
    name = _CAMEL_HUMP.sub(r"_\1", key).lower()
    return CAMEL_ALIASES.get(name, name)


def snake_case_keys(data: Mapping) -> Mapping:
    """Top-level camelCase keys of an original-system body → our field names.

    Only the top level: payload, headers and extras are the operator's data and keep
    their keys. When a body names a field both ways, the snake_case key wins. A form
    post (QueryDict) stays a QueryDict, so DRF still reads it as form input.
    """
    renamed = {key: field_name(key) if isinstance(key, str) else key for key in data}
    if all(new == old for old, new in renamed.items()):
        return data
    keep = [old for old, new in renamed.items() if new == old or new not in data]
    if isinstance(data, QueryDict):
        converted = QueryDict(mutable=True)
        for old in keep:
            converted.setlist(renamed[old], data.getlist(old))
        return converted
    return {renamed[old]: data[old] for old in keep}


# Form posts of the browsable API carry these beside the fields.
FORM_KEYS = {"csrfmiddlewaretoken"}


def refuse_unknown_keys(serializer: serializers.Serializer, data: Mapping, rename=field_name) -> None:
    """A 400 listing the body's keys that name no field (a typo would otherwise be ignored)."""
    unknown = [str(key) for key in data
               if not (isinstance(key, str) and (rename(key) in serializer.fields or key in FORM_KEYS
                                                 or key.startswith("_")))]
    if unknown:
        raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [
            _("Unknown field(s): %(names)s.") % {"names": ", ".join(unknown)}]})
