"""REST API of campaigns: /api/campaigns/ with preview, start, pause, resume, cancel and
retry-failed, and /api/campaigns/{id}/recipients/ (``?state=failed``, ``?format=csv``)."""

import django_filters as filters
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import ledger, sending
from campaigns.models import Campaign, CampaignRecipient
from campaigns.preview import preview
from campaigns.serializers import (ActionResultSerializer, CampaignSerializer, PreviewQuerySerializer,
                                   PreviewSerializer, RecipientSerializer)
from chronoflow.filters import IdFilter
from chronoflow.paginators import StrictPageSize


class RecipientPagination(StrictPageSize, PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` choose the CSV export; the view streams it itself."""

    media_type, format, charset = "text/csv", "csv", "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else b""


class CampaignFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Campaign.Status.choices)
    channel = IdFilter(field_name="channel", help_text="The WhatsApp channel's id.")

    class Meta:
        model = Campaign
        fields = ["status", "channel"]


STATE_PARAMETER = OpenApiParameter("state", OpenApiTypes.STR, enum=CampaignRecipient.State.values,
                                   description=str(_("Only rows in this state.")))
FORMAT_PARAMETER = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"],
                                    description=str(_("csv: the whole ledger (or the state's rows) as a CSV file.")))


class CampaignViewSet(viewsets.ModelViewSet):
    """Campaigns and their per-recipient ledger. Changes only while a draft; then the actions drive it."""

    queryset = Campaign.objects.select_related("channel").prefetch_related("tags").order_by("-pk")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter

    def handle_exception(self, exc):
        # An error under ?format=csv is still JSON: the CSV renderer has nothing to say about it.
        if getattr(getattr(self.request, "accepted_renderer", None), "format", None) == "csv":
            self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)

    def perform_create(self, serializer) -> None:
        campaign = serializer.save()
        if serializer.validated_data.get("start"):
            sending.start(campaign)

    def _act(self, change) -> Response:
        campaign = self.get_object()
        try:
            count = change(campaign) or 0
        except sending.NotAllowed as refused:
            raise ValidationError({"status": [str(refused)]}) from None
        campaign.refresh_from_db(fields=["status"])
        return Response(ActionResultSerializer({"status": campaign.status, "count": count}).data)

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk=None, format=None) -> Response:
        """Start a draft (write its ledger, hand out its sends), or schedule it for its send_at."""
        return self._act(sending.start)

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk=None, format=None) -> Response:
        """No further sends; messages still in the outbox are taken back (their rows stay queued)."""
        return self._act(sending.pause)

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None, format=None) -> Response:
        """Go on sending the queued rows of a paused campaign."""
        return self._act(sending.resume)

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None, format=None) -> Response:
        """Stop for good; the rows not yet sent end 'cancelled' (count)."""
        return self._act(sending.cancel)

    @extend_schema(request=None, responses=ActionResultSerializer)
    @action(detail=True, methods=["post"], url_path="retry-failed")
    def retry_failed(self, request: Request, pk=None, format=None) -> Response:
        """Queue exactly the failed rows again, each as a new attempt (count)."""
        return self._act(sending.retry_failed)

    @extend_schema(parameters=[PreviewQuerySerializer], responses=PreviewSerializer)
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk=None, format=None) -> Response:
        """The texts of the first ``first`` recipients and how many would be suppressed; sends nothing."""
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(PreviewSerializer(preview(self.get_object(), query.validated_data["first"])).data)

    @extend_schema(parameters=[STATE_PARAMETER, FORMAT_PARAMETER], responses=RecipientSerializer(many=True))
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, BrowsableAPIRenderer, CSVRenderer],
            pagination_class=RecipientPagination)
    def recipients(self, request: Request, pk=None, format=None):
        """The ledger: one row per recipient, ``?state=`` to filter, ``?format=csv`` for the whole file."""
        campaign = self.get_object()
        rows = campaign.recipients.select_related("contact", "message").order_by("pk")
        state = request.query_params.get("state")
        if state:
            if state not in CampaignRecipient.State.values:
                raise ValidationError({"state": [_("Choose one of: %(states)s.")
                                                 % {"states": ", ".join(CampaignRecipient.State.values)}]})
            rows = rows.filter(state=state)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(ledger.csv_lines(rows), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-ledger.csv"'
            return response
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RecipientSerializer(page, many=True).data)
