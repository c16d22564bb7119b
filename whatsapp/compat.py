"""The original system's WAHA routes, kept so its clients keep working.

``/waha/sessions`` CRUD, ``/waha/sessions/<session>/start|stop|logout|restart`` and
``GET /waha/sessions/<session>/auth/qr``. Sessions are addressed by WAHA session name
and backed by Channels: creating one here is creating a channel (session and webhook
in WAHA included). Same authentication and permissions as /api/.
"""

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chronoflow.jsonbody import DepthLimitedJSONParser
from whatsapp.api import QR_RENDERERS, WahaFailed, qr_response
from whatsapp.models import Channel, ChannelStatusChange
from whatsapp.serializers import ChannelSerializer
from whatsapp.waha import WahaError

ACTIONS = ("start", "stop", "logout", "restart")
# The original system's clients post JSON. A form would turn every value into text ("0" for
# start), which the schema of these routes does not describe.
JSON_ONLY = [DepthLimitedJSONParser]
RENAMED = {"session_name": "name", "name": "displayName"}


def session_info(channel: Channel) -> dict:
    """A channel in the shape of a WAHA session, plus its channel id and display name."""
    return {"name": channel.session_name, "status": channel.status, "me": channel.me, "id": channel.pk,
            "displayName": channel.name, "shouldRun": channel.should_run, "lastError": channel.last_error}


def wrong_types(body, **types: type) -> dict:
    """Field errors for values of the wrong JSON type: the serializer would turn 0 into "0", "0" into False."""
    if not isinstance(body, dict):
        return {"non_field_errors": ["Send a JSON object."]}
    names = {bool: "true or false", str: "a string"}
    return {name: [f"Must be {names[kind]}."] for name, kind in types.items()
            if name in body and body[name] is not None and not isinstance(body[name], kind)}


class Sessions(APIView):
    """GET: every session. POST {"name": "<session>", "displayName"?: "...", "start"?: true}: create one."""

    queryset = Channel.objects.all()
    parser_classes = JSON_ONLY

    def get(self, request: Request) -> Response:
        return Response([session_info(c) for c in Channel.objects.all()])

    def post(self, request: Request) -> Response:
        body = request.data
        if refused := wrong_types(body, start=bool, displayName=str, name=str):
            return Response(refused, status=status.HTTP_400_BAD_REQUEST)
        data = {"session_name": body.get("name"), "name": body.get("displayName") or body.get("name"),
                "start": body.get("start", True)}
        serializer = ChannelSerializer(data=data)
        if not serializer.is_valid():
            # Name the fields as this route's callers wrote them.
            renamed = {RENAMED.get(field, field): errors for field, errors in serializer.errors.items()}
            return Response(renamed, status=status.HTTP_400_BAD_REQUEST)
        try:
            channel = serializer.save()
        except WahaError as exc:
            raise WahaFailed(exc) from None
        return Response(session_info(channel), status=status.HTTP_201_CREATED)


class Session(APIView):
    """GET one session; PUT {"displayName"}: rename, and push our session config to WAHA again; DELETE."""

    queryset = Channel.objects.all()
    parser_classes = JSON_ONLY

    def get(self, request: Request, session: str) -> Response:
        return Response(session_info(get_object_or_404(Channel, session_name=session)))

    def put(self, request: Request, session: str) -> Response:
        channel = get_object_or_404(Channel, session_name=session)
        body = request.data
        if refused := wrong_types(body, displayName=str):
            return Response(refused, status=status.HTTP_400_BAD_REQUEST)
        serializer = ChannelSerializer(channel, data={"name": body.get("displayName", channel.name)}, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            channel.push_config()
        except WahaError as exc:
            raise WahaFailed(exc) from None
        serializer.save()
        return Response(session_info(channel))

    def delete(self, request: Request, session: str) -> Response:
        channel = get_object_or_404(Channel, session_name=session)
        try:
            channel.delete_session()
        except WahaError as exc:
            raise WahaFailed(exc) from None
        channel.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionAction(APIView):
    """POST /waha/sessions/<session>/start|stop|logout|restart."""

    queryset = Channel.objects.all()

    def post(self, request: Request, session: str, action: str) -> Response:
        channel = get_object_or_404(Channel, session_name=session)
        if action not in ACTIONS:
            return Response({"detail": f"Unknown action {action!r}; use one of {', '.join(ACTIONS)}."},
                            status=status.HTTP_404_NOT_FOUND)
        try:
            getattr(channel, action)(source=ChannelStatusChange.Source.API)
        except WahaError as exc:
            raise WahaFailed(exc) from None
        channel.refresh_from_db()
        return Response(session_info(channel))


class SessionQr(APIView):
    """GET /waha/sessions/<session>/auth/qr: PNG, or JSON with Accept: application/json."""

    queryset = Channel.objects.all()
    renderer_classes = QR_RENDERERS

    def get(self, request: Request, session: str) -> Response:
        return qr_response(request, get_object_or_404(Channel, session_name=session))
