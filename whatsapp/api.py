"""REST API of the whatsapp app: /api/channels/ (with session actions and the QR) and /api/messages/."""

import base64
import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from whatsapp.models import Channel, ChannelStatusChange, Message
from whatsapp.serializers import (ChannelSerializer, MessageSerializer, NoQrSerializer, PairingCodeResultSerializer,
                                  PairingCodeSerializer, QrSerializer, StatusChangeSerializer)
from whatsapp.waha import WahaError
from django.utils.translation import gettext as _


class WahaFailed(APIException):
    """WAHA refused or could not be reached: 502, with WAHA's reason."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "waha_error"

    def __init__(self, error: WahaError) -> None:
        reason = str(error) if str(error).startswith("WAHA") else f"WAHA: {error}"  # WahaError names WAHA already
        super().__init__(detail=reason)
        # Set after super(): APIException would turn waha_status into a string ("None").
        self.detail = {"detail": self.detail, "waha_status": error.status}


class PNGRenderer(renderers.BaseRenderer):
    """PNG bytes as they are. Anything else (an error) is rendered as JSON, labelled so."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data).encode()


def qr_response(request: Request, channel: Channel) -> Response:
    """The channel's QR as PNG, or as JSON when the client accepts only that; 409 when none is shown."""
    if channel.status != Channel.Status.SCAN_QR_CODE:
        return Response({"detail": _("The channel is %(status)s; there is no QR to scan.") % {"status": channel.status},
                         "status": channel.status}, status=status.HTTP_409_CONFLICT)
    try:
        png = channel.qr_png()
    except WahaError as exc:
        raise WahaFailed(exc) from None
    if request.accepted_renderer.format == "json":
        return Response({"mimetype": "image/png", "data": base64.b64encode(png).decode(), "status": channel.status})
    return Response(png)


QR_RENDERERS = [PNGRenderer, renderers.JSONRenderer]
# What qr_response answers, for the schema of both QR routes (here and whatsapp/compat.py).
QR_RESPONSES = {
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The QR to scan"),
    (200, "application/json"): OpenApiResponse(QrSerializer, description="The QR as base64, with Accept: application/json"),
    409: OpenApiResponse(NoQrSerializer, description="The channel is not waiting for a QR scan"),
}
# The session actions read no body: they act on the channel the URL names.
SESSION_ACTION = extend_schema(request=None, responses=ChannelSerializer)


class ChannelViewSet(viewsets.ModelViewSet):
    """WhatsApp channels. Creating one creates and starts its WAHA session, webhook included."""

    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer

    def perform_create(self, serializer: ChannelSerializer) -> None:
        try:
            serializer.save()
        except WahaError as exc:
            raise WahaFailed(exc) from None

    def perform_destroy(self, instance: Channel) -> None:
        try:
            instance.delete_session()
        except WahaError as exc:
            raise WahaFailed(exc) from None
        instance.delete()

    def _session_action(self, method: str) -> Response:
        channel = self.get_object()
        try:
            getattr(channel, method)(source=ChannelStatusChange.Source.API)
        except WahaError as exc:
            raise WahaFailed(exc) from None
        channel.refresh_from_db()
        return Response(self.get_serializer(channel).data)

    @SESSION_ACTION
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk=None, format=None) -> Response:
        return self._session_action("start")

    @SESSION_ACTION
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk=None, format=None) -> Response:
        return self._session_action("stop")

    @SESSION_ACTION
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, pk=None, format=None) -> Response:
        return self._session_action("restart")

    @SESSION_ACTION
    @action(detail=True, methods=["post"])
    def logout(self, request: Request, pk=None, format=None) -> Response:
        return self._session_action("logout")

    @SESSION_ACTION
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk=None, format=None) -> Response:
        return self._session_action("refresh_status")

    @action(detail=True, methods=["post"], url_path="resume-outreach")
    def resume_outreach(self, request: Request, pk=None, format=None) -> Response:
        """Let sends to new contacts go again after a ban signal paused them (nothing in WAHA changes)."""
        channel = self.get_object()
        channel.resume_outreach()
        return Response(self.get_serializer(channel).data)

    @extend_schema(responses=QR_RESPONSES)
    @action(detail=True, methods=["get"], renderer_classes=QR_RENDERERS)
    def qr(self, request: Request, pk=None, format=None) -> Response:
        """The QR to scan: PNG, or {mimetype, data (base64)} with ``Accept: application/json``."""
        return qr_response(request, self.get_object())

    @extend_schema(request=PairingCodeSerializer, responses=PairingCodeResultSerializer)
    @action(detail=True, methods=["post"], url_path="pairing-code", serializer_class=PairingCodeSerializer)
    def pairing_code(self, request: Request, pk=None, format=None) -> Response:
        """A code to link the phone by number instead of QR: POST {"phone_number": "+55 11 ..."}."""
        channel = self.get_object()
        serializer = PairingCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            code = channel.request_pairing_code(serializer.validated_data["phone_number"])
        except WahaError as exc:
            raise WahaFailed(exc) from None
        return Response({"code": code})

    # Not paginated: the newest 100 changes, as a plain list.
    @extend_schema(responses=StatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request: Request, pk=None, format=None) -> Response:
        """The channel's status changes, newest first."""
        changes = self.get_object().status_changes.all()[:100]
        return Response(StatusChangeSerializer(changes, many=True).data)


class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    """Messages sent and received; filter with ?channel=<id>, ?direction=in|out, ?run=<id>."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        queryset = Message.objects.all()
        for field in ("channel", "direction", "run", "status"):
            value = self.request.query_params.get(field)
            if not value:
                continue
            if field in ("channel", "run") and not value.isdigit():
                raise ValidationError({field: _("%(field)s must be an id (a whole number).") % {"field": field}})
            queryset = queryset.filter(**{field: value})
        return queryset
