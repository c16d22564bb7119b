"""Inbound WhatsApp media that ChronoFlow keeps: fetched from WAHA, stored, handed out.

WAHA deletes the files it downloaded after WHATSAPP_FILES_LIFETIME (180 s by default), so
``Message.keep_media`` fetches each one while its webhook is processed and stores it through
Django's storage API: ``STORAGES["whatsapp_media"]`` when configured (any django-storages
backend), else the default storage (MEDIA_ROOT under DATA_DIR). Nothing serves MEDIA_URL:
staff see a file through the admin, functions through a signed, expiring link.

No ORM here (the Message model stores the outcome), and nothing from automations.
"""

from __future__ import annotations

import mimetypes
import os

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage, default_storage, storages
from django.http import FileResponse
from django.urls import reverse
from django.utils.text import get_valid_filename

from whatsapp.waha import WahaClient, WahaFile, file_path

STORAGE_ALIAS = "whatsapp_media"
LINK_SALT = "whatsapp.media.link"
# Shown in the browser; anything else is a download. No SVG or HTML: a customer's file
# must never run script on our origin (the CSP sandbox below is the second guard).
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "video/mp4", "video/3gpp",
})


def media_storage() -> Storage:
    """Where inbound media goes: the ``whatsapp_media`` storage when configured, else the default."""
    if STORAGE_ALIAS in settings.STORAGES:
        return storages[STORAGE_ALIAS]
    return default_storage


def upload_to(message, filename: str) -> str:
    """whatsapp/media/<channel pk>/<message pk>-<safe filename>: one folder per channel."""
    return f"whatsapp/media/{message.channel_id}/{message.pk}-{filename}"


def safe_filename(filename: object, mimetype: str) -> str:
    """A storable name from the sender's filename (or ``media.<ext>`` from the type), short."""
    try:
        name = get_valid_filename(os.path.basename(str(filename or "")))
    except SuspiciousFileOperation:  # nothing usable left, e.g. "..", or no name at all
        name = ""
    if not name:
        name = "media" + (mimetypes.guess_extension(mimetype or "") or "")
    stem, ext = os.path.splitext(name)
    return stem[:80] + ext[:16]


def fetch(client: WahaClient, metadata: dict) -> WahaFile:
    """The file WAHA announced in a message's media metadata, from our WAHA, capped.

    Raises WahaError (WahaFileTooLarge past WHATSAPP_MEDIA_MAX_BYTES) when it cannot be had.
    """
    return client.download_file(file_path(metadata.get("url")), settings.WHATSAPP_MEDIA_MAX_BYTES)


# --- Signed links, for functions -------------------------------------------------------------


def link_url(message_pk: int) -> str:
    """An absolute link to a stored file, valid WHATSAPP_MEDIA_LINK_MAX_AGE_S from now."""
    token = signing.dumps({"message": message_pk}, salt=LINK_SALT)
    return settings.PUBLIC_BASE_URL + reverse("whatsapp:media-link", args=[token])


def message_pk_from(token: str) -> int:
    """The message a link names; signing.SignatureExpired when too old, BadSignature when forged."""
    data = signing.loads(token, salt=LINK_SALT, max_age=settings.WHATSAPP_MEDIA_LINK_MAX_AGE_S)
    if not isinstance(data, dict) or not isinstance(data.get("message"), int):
        raise signing.BadSignature("The link names no message.")
    return data["message"]


# --- Serving ---------------------------------------------------------------------------------


def file_response(field_file, mimetype: str, filename: str) -> FileResponse:
    """The stored file as a response that cannot run in the browser as part of our site."""
    mimetype = mimetype or "application/octet-stream"
    inline = mimetype in INLINE_TYPES
    response = FileResponse(field_file.open("rb"), content_type=mimetype, as_attachment=not inline,
                            filename=filename)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
