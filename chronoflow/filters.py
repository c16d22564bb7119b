"""Query-parameter filters shared by every app's API (django-filter)."""

import django_filters as filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


@extend_schema_field(OpenApiTypes.BOOL)
class TrueFalseFilter(filters.ChoiceFilter):
    """``true`` or ``false``; anything else is a 400 naming the parameter.

    django-filter's BooleanFilter reads an unknown value (``?is_active=yes``) as no filter,
    answering every chrono as if the client had not asked.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[("true", "true"), ("false", "false")],
                         error_messages={"invalid_choice": "Use true or false, not %(value)r."}, **kwargs)

    def filter(self, qs, value):
        return super().filter(qs, {"true": True, "false": False}.get(value, value))


class IdFilter(filters.NumberFilter):
    """A row's id: a whole number (NumberFilter takes decimals, and ?chrono=0.5 matched nothing silently).

    An id no row has matches nothing (an empty page), as ?chrono=0 should; a ModelChoiceFilter
    would answer it with a 400 that no client can avoid without listing the rows first.
    """

    field_class = forms.IntegerField
