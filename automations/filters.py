"""Query-parameter filters of the run lists (``/api/runs/?chrono=3&status=failed,timeout``)."""

from collections.abc import Mapping

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from automations.models import ChronoRun

CHOICES = {"status": ChronoRun.Status.values, "trigger": ChronoRun.Trigger.values}


def filter_runs(runs: QuerySet, params: Mapping[str, str]) -> QuerySet:
    """Narrow `runs` by the `chrono`, `status` and `trigger` parameters present.

    `status` and `trigger` take one value or a comma-separated list. An unknown value
    is a 400 naming the parameter, not an empty page that looks like "no runs".
    """
    errors: dict[str, list[str]] = {}
    if params.get("chrono"):
        if params["chrono"].isdigit():
            runs = runs.filter(chrono_id=int(params["chrono"]))
        else:
            errors["chrono"] = [f"Expected a chrono id (a number), got {params['chrono']!r}."]
    for name, allowed in CHOICES.items():
        if not params.get(name):
            continue
        wanted = [value.strip() for value in params[name].split(",") if value.strip()]
        unknown = [value for value in wanted if value not in allowed]
        if unknown:
            errors[name] = [f"Unknown {name} {', '.join(map(repr, unknown))}; use one of {', '.join(allowed)}."]
        else:
            runs = runs.filter(**{f"{name}__in": wanted})
    if errors:
        raise ValidationError(errors)
    return runs
