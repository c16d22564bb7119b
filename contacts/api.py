"""REST API of contacts: /api/contacts/ (filters, opt-out / opt-in, LGPD export and erase) and
/api/contacts/import/ (a CSV, as ``manage.py import_contacts``)."""

import io

import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import lgpd
from contacts.importer import ImportRefused, Importer, parse_mapping
from chronoflow.filters import TrueFalseFilter
from chronoflow.paginators import StrictPageSize
from contacts.models import ConsentChange, Contact
from contacts.serializers import ConsentSerializer, ContactSerializer, ImportReportSerializer, ImportSerializer


class ContactPagination(StrictPageSize, PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class ContactFilter(filters.FilterSet):
    tag = filters.CharFilter(field_name="tags__name", help_text=_("Contacts with this tag."))
    opted_out = TrueFalseFilter(help_text=_("true: contacts who opted out; false: the others."))
    search = filters.CharFilter(method="search_contacts", help_text=_("Part of the name, phone or chat id."))

    class Meta:
        model = Contact
        fields = ["tag", "opted_out", "search"]

    def search_contacts(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(phone__contains=value) | Q(chat_id__contains=value)
                               | Q(lid__contains=value))


class ContactViewSet(viewsets.ModelViewSet):
    """Contacts. ``?tag=vip&opted_out=false&search=ana``. Consent changes through opt-out / opt-in."""

    queryset = Contact.objects.prefetch_related("tags").order_by("pk")
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    pagination_class = ContactPagination

    def _consent(self, request: Request, opted_out: bool) -> Response:
        contact = self.get_object()
        serializer = ConsentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact.set_consent(opted_out, ConsentChange.How.API, detail=serializer.validated_data["reason"],
                            actor=request.user.get_username())
        return Response(self.get_serializer(contact).data)

    @extend_schema(request=ConsentSerializer, responses=ContactSerializer)
    @action(detail=True, methods=["post"], url_path="opt-out")
    def opt_out(self, request: Request, pk=None, format=None) -> Response:
        """Opt the contact out (audited as 'api'); nothing is sent to it afterwards."""
        return self._consent(request, True)

    @extend_schema(request=ConsentSerializer, responses=ContactSerializer)
    @action(detail=True, methods=["post"], url_path="opt-in")
    def opt_in(self, request: Request, pk=None, format=None) -> Response:
        """Opt the contact back in (audited as 'api')."""
        return self._consent(request, False)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk=None, format=None) -> Response:
        """Everything held about the contact (LGPD access request), as JSON."""
        return Response(lgpd.export(self.get_object()))

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk=None, format=None) -> Response:
        """Delete the contact, its consent history and its messages (LGPD erasure request)."""
        return Response(lgpd.erase(self.get_object()))

    @extend_schema(request=ImportSerializer, responses={200: ImportReportSerializer, 201: ImportReportSerializer,
                                                        400: ImportReportSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request: Request, format=None) -> Response:
        """Import a CSV (multipart ``file``): 201 when written, 200 for a dry run, 400 with the row errors."""
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = serializer.validated_data
        try:
            importer = Importer(parse_mapping(options["map"]), tags=options["tag"], dry_run=options["dry_run"],
                                partial=options["partial"])
            report = importer.run(io.TextIOWrapper(options["file"].file, encoding="utf-8-sig", newline=""))
        except ImportRefused as refused:
            raise ValidationError({refused.field: [refused.reason]}) from None
        code = status.HTTP_201_CREATED if report.written else status.HTTP_200_OK
        if report.error_count and not report.written and not report.dry_run:
            code = status.HTTP_400_BAD_REQUEST
        return Response(ImportReportSerializer(report.as_dict()).data, status=code)
