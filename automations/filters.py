"""Query-parameter filters of the chrono and run lists (django-filter, so the schema documents them).

``/api/chronos/?target_type=HTTP&is_active=true&channel=2&search=bom``
``/api/runs/?chrono=3&status=failed,timeout&trigger=schedule&scheduled_after=2026-01-01T00:00Z``

``status``, ``trigger`` and ``target_type`` take one value or a comma-separated list. An
unknown value is a 400 naming the parameter, not an empty page that looks like "no runs".
"""

from collections.abc import Mapping
from datetime import timezone

import django_filters as filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from automations.models import Chrono, ChronoRun
from chronoflow.filters import IdFilter, TrueFalseFilter


class ChoiceInFilter(filters.BaseInFilter, filters.ChoiceFilter):
    """One choice or a comma-separated list of them; an unknown one names the allowed ones."""

    def __init__(self, *args, choices, **kwargs):
        allowed = ", ".join(value for value, _ in choices)
        kwargs.setdefault("error_messages", {"invalid_choice": f"Unknown value %(value)r; use one of {allowed}."})
        super().__init__(*args, choices=choices, lookup_expr="in", **kwargs)


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 time compared in UTC: Python reads offsets up to ±23:59, PostgreSQL only ±15:59."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return super().filter(qs, value)


class ChronoFilter(filters.FilterSet):
    target_type = ChoiceInFilter(choices=Chrono.TargetType.choices, help_text="HTTP, MESSAGE, FUNCTION or ASSISTANT; several with commas.")
    is_active = TrueFalseFilter(help_text="true: active chronos; false: paused ones.")
    channel = IdFilter(field_name="channel", help_text="The WhatsApp channel's id.")
    search = filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name, any case.")

    class Meta:
        model = Chrono
        fields = ["target_type", "is_active", "channel", "search"]


class RunFilter(filters.FilterSet):
    chrono = IdFilter(field_name="chrono", help_text="The chrono's id.")
    status = ChoiceInFilter(choices=ChronoRun.Status.choices, help_text="One status, or several with commas.")
    trigger = ChoiceInFilter(choices=ChronoRun.Trigger.choices, help_text="One trigger, or several with commas.")
    scheduled_after = UtcDateTimeFilter(field_name="scheduled_for", lookup_expr="gte",
                                                help_text="Runs scheduled at or after this ISO 8601 time.")
    scheduled_before = UtcDateTimeFilter(field_name="scheduled_for", lookup_expr="lt",
                                                 help_text="Runs scheduled before this ISO 8601 time.")

    class Meta:
        model = ChronoRun
        fields = ["chrono", "status", "trigger", "scheduled_after", "scheduled_before"]



def filter_runs(runs: QuerySet, params: Mapping[str, str]) -> QuerySet:
    """Narrow `runs` by RunFilter's parameters; a 400 (ValidationError) names each bad one."""
    filterset = RunFilter(params, queryset=runs)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def schema_parameters(filterset: type[filters.FilterSet]) -> list[OpenApiParameter]:
    """The filterset's query parameters, for the schema of an extra action (whose view
    queryset is another model, so drf-spectacular cannot read the filterset itself)."""
    kinds = {filters.NumberFilter: OpenApiTypes.INT, filters.BooleanFilter: OpenApiTypes.BOOL, TrueFalseFilter: OpenApiTypes.BOOL,
             filters.IsoDateTimeFilter: OpenApiTypes.DATETIME}
    parameters = []
    for name, spec in filterset.base_filters.items():
        description = str(spec.extra.get("help_text", ""))
        if isinstance(spec, ChoiceInFilter):
            values = [value for value, _ in spec.extra["choices"]]
            parameters.append(OpenApiParameter(name, {"type": "array", "items": {"type": "string", "enum": values}},
                                               description=description, explode=False, style="form"))
        else:
            kind = next((t for cls, t in kinds.items() if isinstance(spec, cls)), OpenApiTypes.STR)
            parameters.append(OpenApiParameter(name, kind, description=description))
    return parameters
