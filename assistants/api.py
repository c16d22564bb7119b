"""REST API of assistants: CRUD, tools nested, the API key write-only."""

from django.db.models import ProtectedError
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException

from assistants.models import Assistant
from assistants.serializers import AssistantSerializer


class InUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "in_use"


class AssistantViewSet(viewsets.ModelViewSet):
    """AI assistants that answer WhatsApp chats (ASSISTANT chronos)."""

    queryset = Assistant.objects.prefetch_related("assistant_tools__function")
    serializer_class = AssistantSerializer

    def perform_destroy(self, instance: Assistant) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:  # chronos answer with it: a 409 naming them, not a 500
            names = ", ".join(sorted(str(obj) for obj in exc.protected_objects)[:10])
            raise InUse(f"Chronos use this assistant: {names}. Change or delete them first.") from None
