"""REST API of assistants: CRUD, tools nested, the API key write-only."""

from rest_framework import viewsets

from assistants.models import Assistant
from assistants.serializers import AssistantSerializer


class AssistantViewSet(viewsets.ModelViewSet):
    """AI assistants that answer WhatsApp chats (ASSISTANT chronos)."""

    queryset = Assistant.objects.prefetch_related("assistant_tools__function")
    serializer_class = AssistantSerializer
