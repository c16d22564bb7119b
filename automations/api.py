"""REST API of chronos and their runs: thin viewsets over Chrono's own methods."""

from django.core.paginator import Paginator
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from drf_spectacular.utils import extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination, LimitOffsetPagination, PageNumberPagination
from rest_framework.settings import api_settings
from rest_framework.request import Request
from rest_framework.response import Response

from automations.filters import ChronoFilter, RunFilter, filter_runs, schema_parameters
from automations.models import Chrono, ChronoFinished, ChronoRun
from automations.serializers import ChronoRunSerializer, ChronoWithFunctionSerializer
from chronoflow.paginators import StrictPageSize
from chronoflow.permissions import StaffOrModelPermissions


class IdsFirstPaginator(Paginator):
    """Pages read the page's ids first (an index-only scan past the offset), then only those rows.

    ``?page=1000`` of 100,000 chronos then skips 50,000 index entries, not 50,000 whole rows.
    """

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom: bottom + self.per_page])
        rows = {row.pk: row for row in self.object_list.order_by().filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class SkipTakePagination(LimitOffsetPagination):
    """The original system's ``?skip=&take=`` (TypeORM's offset and limit), on every list.

    The answer has the API's usual shape (count, next, previous, results); ``take`` is
    capped at 500 like ``page_size``, and one that is not a whole number is a 400 naming it.
    """

    offset_query_param, limit_query_param, max_limit = "skip", "take", 500

    @staticmethod
    def wanted(request) -> bool:
        # An empty ?take= (a form left blank) is no skip/take, like an empty filter.
        return bool(request.query_params.get("skip") or request.query_params.get("take"))

    def get_limit(self, request) -> int:
        take = _whole_number(request, self.limit_query_param, api_settings.PAGE_SIZE, minimum=1)
        return min(take, self.max_limit)

    def get_offset(self, request) -> int:
        return _whole_number(request, self.offset_query_param, 0, minimum=0)

    def get_schema_operation_parameters(self, view):
        return [{"name": name, "required": False, "in": "query", "schema": {"type": "integer", "minimum": low},
                 "description": text} for name, low, text in (
            ("skip", 0, "The original system's offset: rows to skip (with take, instead of page or cursor)."),
            ("take", 1, "The original system's limit: rows to return, at most 500."))]


def _whole_number(request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or int(raw) < minimum:
        raise serializers.ValidationError({name: [_("%(name)s must be a whole number of at least %(min)d, not %(value)r.")
                                                  % {"name": name, "min": minimum, "value": raw}]})
    return int(raw)


class PageSizePagination(StrictPageSize, PageNumberPagination):
    """PAGE_SIZE (50) by default; clients may ask for up to 500 with ?page_size=, or use ?skip=&take=."""

    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = IdsFirstPaginator

    def paginate_queryset(self, queryset, request, view=None):
        self.skip_take = SkipTakePagination() if SkipTakePagination.wanted(request) else None
        if self.skip_take is not None:
            return self.skip_take.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.skip_take is not None:
            return self.skip_take.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        return [*super().get_schema_operation_parameters(view),
                *SkipTakePagination().get_schema_operation_parameters(view)]


class RunCursorPagination(StrictPageSize, CursorPagination):
    """Runs, newest first, by a cursor: each page costs the same, however deep (no COUNT, no OFFSET).

    ``next``/``previous`` carry ``?cursor=``; ``page_size`` as for chronos. The old
    ``?page=N`` form still answers, page-numbered with a count (slow on a big table).
    ``with_count``: add ``count``, for one chrono's runs (few: RUN_RETENTION_PER_CHRONO).
    """

    ordering = ("-scheduled_for", "-id")
    page_size_query_param = "page_size"
    max_page_size = 500

    def __init__(self, with_count: bool = False):
        self.with_count = with_count
        self.numbered = None
        self.count = None

    def paginate_queryset(self, queryset, request, view=None):
        if "page" in request.query_params or SkipTakePagination.wanted(request):
            self.numbered = PageSizePagination()  # which also reads ?skip=&take=
            return self.numbered.paginate_queryset(queryset, request, view)
        if self.with_count:
            self.count = queryset.count()
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.numbered is not None:
            return self.numbered.get_paginated_response(data)
        response = super().get_paginated_response(data)
        if self.count is not None:
            response.data = {"count": self.count, **response.data}
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"] = {"count": {"type": "integer", "description": "One chrono's runs only."},
                                   **paginated["properties"]}
        return paginated

    def get_schema_operation_parameters(self, view):
        return [*super().get_schema_operation_parameters(view), {
            "name": "page", "required": False, "in": "query", "schema": {"type": "integer"},
            "description": "Deprecated page-number form (counts every run: slow on a big table); use cursor.",
        }, *SkipTakePagination().get_schema_operation_parameters(view)]


class CanChangeChrono(StaffOrModelPermissions):
    """Pause, resume and trigger change a chrono, although they are POSTs."""

    perms_map = {**StaffOrModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class CanViewRuns(StaffOrModelPermissions):
    """A chrono's run history needs the view permission on runs as well as on chronos."""

    perms_map = {
        **StaffOrModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s", "automations.view_chronorun"],
        "HEAD": ["%(app_label)s.view_%(model_name)s", "automations.view_chronorun"],
    }


class ChronoViewSet(viewsets.ModelViewSet):
    """Chronos: CRUD plus pause, resume, trigger and the run history of one chrono.

    Every action takes ``format``: the router also routes ``runs.json`` and passes it on.
    """

    queryset = Chrono.objects.select_related("channel", "function", "hook", "message_trigger", "alert_policy")
    # functionCode/functionLimits (DESIGN.md §8) create the chrono's function in the same request.
    serializer_class = ChronoWithFunctionSerializer
    pagination_class = PageSizePagination
    filterset_class = ChronoFilter

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], permission_classes=[CanChangeChrono])
    def pause(self, request: Request, pk=None, format=None) -> Response:
        chrono = self.get_object()
        chrono.pause()
        return Response(self.get_serializer(chrono).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], permission_classes=[CanChangeChrono])
    def resume(self, request: Request, pk=None, format=None) -> Response:
        chrono = self.get_object()
        try:
            chrono.resume()
        except ChronoFinished as exc:  # a finished one-shot: a 400 naming the schedule
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(self.get_serializer(chrono).data)

    @extend_schema(request=None, responses={202: ChronoRunSerializer})
    @action(detail=True, methods=["post"], permission_classes=[CanChangeChrono])
    def trigger(self, request: Request, pk=None, format=None) -> Response:
        chrono = self.get_object()
        with transaction.atomic():
            run = chrono.trigger()
        return Response(ChronoRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    # filter_backends=[]: the chrono filters are not this action's; it filters runs itself.
    @extend_schema(responses=ChronoRunSerializer(many=True), filters=False, parameters=schema_parameters(RunFilter))
    @action(detail=True, methods=["get"], permission_classes=[CanViewRuns], filter_backends=[],
            pagination_class=RunCursorPagination)
    def runs(self, request: Request, pk=None, format=None) -> Response:
        chrono = self.get_object()
        runs = filter_runs(chrono.runs.select_related("chrono"), request.query_params)
        paginator = RunCursorPagination(with_count=True)
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(ChronoRunSerializer(page, many=True).data)


class ChronoRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs of every chrono, newest first; filter with ?chrono=, ?status=, ?trigger=, ?scheduled_after=..."""

    queryset = ChronoRun.objects.select_related("chrono")
    serializer_class = ChronoRunSerializer
    pagination_class = RunCursorPagination
    filterset_class = RunFilter


@extend_schema_view(**{name: extend_schema(deprecated=True, tags=["chronos (original system)"])
                       for name in ("list", "create", "retrieve", "update", "partial_update", "destroy",
                                    "pause", "resume", "trigger", "runs")})
class LegacyChronoViewSet(ChronoViewSet):
    """The original system's ``/chronos`` routes: the same chronos, permissions and bodies as ``/api/chronos/``."""
