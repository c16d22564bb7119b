"""REST API of chronos and their runs: thin viewsets over Chrono's own methods."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from automations.filters import ChronoFilter, RunFilter, filter_runs, schema_parameters
from automations.models import Chrono, ChronoRun
from automations.serializers import ChronoRunSerializer
from chronoflow.permissions import StaffOrModelPermissions
from functions.serializers import ChronoWithFunctionSerializer


class PageSizePagination(PageNumberPagination):
    """PAGE_SIZE (50) by default; clients may ask for up to 500 with ?page_size=."""

    page_size_query_param = "page_size"
    max_page_size = 500


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
        chrono.resume()
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
    @action(detail=True, methods=["get"], permission_classes=[CanViewRuns], filter_backends=[])
    def runs(self, request: Request, pk=None, format=None) -> Response:
        chrono = self.get_object()
        runs = filter_runs(chrono.runs.select_related("chrono"), request.query_params)
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(ChronoRunSerializer(page, many=True).data)


class ChronoRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs of every chrono, newest first; filter with ?chrono=, ?status=, ?trigger=, ?scheduled_after=..."""

    queryset = ChronoRun.objects.select_related("chrono")
    serializer_class = ChronoRunSerializer
    pagination_class = PageSizePagination
    filterset_class = RunFilter
