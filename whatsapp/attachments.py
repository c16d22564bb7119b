"""One attachment on an outbound message: an image, a document, a voice note or a video.

``Attachment`` is the value any sender hands to ``Channel.send_and_record`` (MESSAGE chronos,
campaigns, functions): its kind, where the file is, its filename, mimetype and caption. The
file is either ``url``, an http(s) address WAHA downloads itself, or ``file``, the name of an
uploaded file in the attachment storage (the storage inbound media use), which goes to WAHA
inline as base64: WAHA needs no way back to us, and the file cannot expire in between.

``problems()`` names every field that is wrong (the chrono's form and the API show them);
``waha_file()`` is WAHA's ``file`` object (``RemoteFile`` or ``BinaryFile``); ``send()``
makes the WAHA call that fits the kind (``sendImage``, ``sendFile``, ``sendVoice``,
``sendVideo``). A queued message keeps ``as_stored()`` on its row, so the outbox sends it later.

No ORM here, and nothing from automations.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
import uuid
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy as _

from whatsapp import media

IMAGE, DOCUMENT, AUDIO, VIDEO = "image", "document", "audio", "video"
KIND_CHOICES = [(IMAGE, _("Image")), (DOCUMENT, _("Document")), (AUDIO, _("Audio (voice note)")),
                (VIDEO, _("Video"))]
# The WAHA client's method for each kind; voice and video ask WAHA to convert other formats.
SENDERS = {IMAGE: "send_image", DOCUMENT: "send_file", AUDIO: "send_voice", VIDEO: "send_video"}
CAPTION_MAX = 1024  # WhatsApp cuts a longer caption
MIMETYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+(\s*;.*)?$")


class InvalidAttachment(ValueError):
    """``problems``: field name (kind, url, file, filename, mimetype, caption) -> what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, text in problems.items()))
        self.problems = problems


def storage():
    """Where uploaded attachments are kept: the storage of inbound media (whatsapp/media.py)."""
    return media.media_storage()


def upload_to(instance, filename: str) -> str:
    """whatsapp/attachments/<random>/<safe filename>: a new folder each upload, so no name collides."""
    return f"whatsapp/attachments/{uuid.uuid4().hex[:12]}/{media.safe_filename(filename, '')}"


@dataclass(frozen=True)
class Attachment:
    kind: str
    url: str = ""
    file: str = ""  # a name in storage(), e.g. a FileField's .name
    filename: str = ""
    mimetype: str = ""
    caption: str = ""

    @property
    def type(self) -> str:
        """The mimetype given, else the one the filename (or the URL's path) suggests; '' when unknown."""
        if self.mimetype:
            return self.mimetype.strip()
        for name in (self.filename, self.file, urlsplit(self.url).path if self.url else ""):
            guessed = mimetypes.guess_type(name or "")[0]
            if guessed:
                return guessed
        return ""

    @property
    def name(self) -> str:
        """The filename the recipient sees: the one given, else the file's or the URL's own."""
        source = self.filename or os.path.basename(self.file) or os.path.basename(urlsplit(self.url).path)
        try:
            return get_valid_filename(source) if source else ""
        except Exception:  # nothing usable left in it
            return ""

    # --- checks -----------------------------------------------------------------------------

    def problems(self, size: int | None = None) -> dict[str, str]:
        """What is wrong, by field; empty when it can be sent. ``size``: an upload's bytes, if known."""
        if self.kind not in SENDERS:
            return {"kind": str(_("Choose the attachment's kind: image, document, audio or video."))}
        found = self._source_problems(size)
        kind_problem = self._type_problem()
        if kind_problem:
            found["mimetype"] = kind_problem
        if len(self.caption) > CAPTION_MAX:
            found["caption"] = str(_("A caption has at most %(max)d characters; this one has %(n)d.")
                                   % {"max": CAPTION_MAX, "n": len(self.caption)})
        elif self.kind == AUDIO and self.caption.strip():
            found["caption"] = str(_("A voice note carries no caption: leave the text empty, or send a video "
                                     "or document instead."))
        return found

    def _source_problems(self, size: int | None) -> dict[str, str]:
        if bool(self.url) == bool(self.file):
            return {"url": str(_("Give either the file's URL or an uploaded file (one of the two)."))}
        if self.url:
            try:
                URLValidator(schemes=["http", "https"])(self.url)
            except ValidationError:
                return {"url": str(_("The attachment's URL must be an http:// or https:// address."))}
            return {}
        if size is None:
            try:
                size = storage().size(self.file)
            except (OSError, NotImplementedError):
                return {"file": str(_("The uploaded file is missing from the storage."))}
        limit = settings.WHATSAPP_ATTACHMENT_MAX_BYTES
        if size > limit:
            return {"file": str(_("The file has %(size)s bytes; attachments may have at most %(max)s "
                                  "(WHATSAPP_ATTACHMENT_MAX_BYTES).") % {"size": size, "max": limit})}
        return {}

    def _type_problem(self) -> str:
        mimetype = self.type
        if not mimetype:
            return str(_("Give the file's mimetype (e.g. image/jpeg): its name does not tell."))
        if not MIMETYPE.match(mimetype):
            return str(_("%(value)r is not a mimetype such as image/jpeg.") % {"value": mimetype})
        major = mimetype.split("/", 1)[0].lower()
        if self.kind != DOCUMENT and major != self.kind:
            return str(_("A %(kind)s attachment needs a %(kind)s/… mimetype, not %(value)s; send other files "
                         "as a document.") % {"kind": self.kind, "value": mimetype})
        return ""

    def check(self, size: int | None = None) -> Attachment:
        problems = self.problems(size)
        if problems:
            raise InvalidAttachment(problems)
        return self

    # --- storing and sending ----------------------------------------------------------------

    def as_stored(self) -> dict:
        """What a Message row keeps (its text is the caption)."""
        stored = asdict(self)
        stored.pop("caption")
        return stored

    @classmethod
    def from_stored(cls, data: dict | None, caption: str = "") -> Attachment | None:
        if not data:
            return None
        fields = {k: str(data.get(k) or "") for k in ("kind", "url", "file", "filename", "mimetype")}
        return cls(**fields, caption=caption)

    def waha_file(self) -> dict:
        """WAHA's ``file``: {mimetype, url, filename} or {mimetype, data (base64), filename}."""
        described = {"mimetype": self.type or "application/octet-stream"}
        if self.name:
            described["filename"] = self.name
        if self.url:
            return {**described, "url": self.url}
        with storage().open(self.file, "rb") as stored:
            return {**described, "data": base64.b64encode(stored.read()).decode("ascii")}

    def send(self, client, session: str, chat_id: str) -> dict:
        """The WAHA call for this kind, with the caption where the kind has one; WAHA's answer."""
        method = getattr(client, SENDERS[self.kind])
        if self.kind == AUDIO:
            return method(session, chat_id, self.waha_file())
        return method(session, chat_id, self.waha_file(), caption=self.caption)
