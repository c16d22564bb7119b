"""The signed media link functions get (run input ``media.url``): no login, the token is the key."""

from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from whatsapp import media
from whatsapp.models import Message


@csrf_exempt  # read-only and token-keyed: any other method is a 405, not a CSRF 403
@require_GET
def media_link(request: HttpRequest, token: str) -> HttpResponse:
    """The stored file a signed link names; 403 once expired, 404 when forged or gone."""
    try:
        message_pk = media.message_pk_from(token)
    except signing.SignatureExpired:  # checked first: it is a BadSignature too
        return JsonResponse({"detail": "This media link has expired (WHATSAPP_MEDIA_LINK_MAX_AGE_S)."}, status=403)
    except signing.BadSignature:
        return JsonResponse({"detail": "No such media link."}, status=404)
    message = Message.objects.filter(pk=message_pk, direction=Message.Direction.IN).first()
    response = message.media_response() if message is not None else None
    return response or JsonResponse({"detail": "No such media link."}, status=404)
