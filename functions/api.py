"""REST API of user functions: CRUD, plus a test run that returns what the run recorded."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from chronoflow.jsonbody import DepthLimitedJSONParser
from chronoflow.permissions import StaffOrModelPermissions
from functions.models import UserFunction
from functions.serializers import RunReportSerializer, RunRequestSerializer, UserFunctionSerializer


class CanChangeFunction(StaffOrModelPermissions):
    """A test run may send messages and persist state: it needs the change permission."""

    perms_map = {**StaffOrModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class UserFunctionViewSet(viewsets.ModelViewSet):
    """User functions. POST /api/functions/<id>/run/ {"input": ...} runs one now."""

    queryset = UserFunction.objects.select_related("fallback_channel")
    serializer_class = UserFunctionSerializer

    @extend_schema(request=RunRequestSerializer, responses=RunReportSerializer)
    # JSON only: the input is any JSON value, which a form field cannot carry ("" is not JSON).
    @action(detail=True, methods=["post"], permission_classes=[CanChangeFunction],
            parser_classes=[DepthLimitedJSONParser])
    def run(self, request: Request, pk=None, format=None) -> Response:
        function = self.get_object()
        body = RunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # A one-off from the web process: no pool children to keep waiting there.
        report = function.run_once(input=body.validated_data["input"], refill_pool=False)
        # as_result() carries the structured error of a failed run; error_text is its one-line form.
        return Response({"ok": report.ok, "error_text": report.error_text, "error": None, **report.as_result()})
