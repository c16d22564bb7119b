"""The development channel: a stand-in for WAHA that talks to nothing. NOT WhatsApp.

Like Django's console e-mail backend, it lets everything WhatsApp be tried on ``make run``
alone: sessions start at once (WORKING, no phone to link), a send returns a made-up
message id and is written to the log, and the Message row ChronoFlow keeps records it as
sent. Nobody receives anything. Inbound messages are simulated from the admin or with
``manage.py simulate_message`` (Channel.simulate_inbound), through the webhook's own path.

Chosen by WHATSAPP_PROVIDER=dev, or by default when WAHA_BASE_URL is not set
(whatsapp.models.current_provider). Same methods as WahaClient for what ChronoFlow calls.
No ORM here: the session states come from ``sessions``, a callable the caller gives.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Callable

import segno

from whatsapp.waha import WahaError

log = logging.getLogger(__name__)

LABEL = "Development channel — not WhatsApp"
# What a dev session is "logged in as": a number no phone has, named so nobody mistakes it.
DEV_ME = {"id": "0000000000000@c.us", "pushName": LABEL}
QR_TEXT = "ChronoFlow development channel — not WhatsApp. There is nothing to scan."

WORKING, STOPPED, SCAN_QR_CODE = "WORKING", "STOPPED", "SCAN_QR_CODE"


class DevClient:
    """``DevClient(sessions)``: ``sessions()`` maps each dev session name to its stored status."""

    engine = "DEV"

    def __init__(self, sessions: Callable[[], dict[str, str]] | None = None) -> None:
        self.sessions = sessions or dict

    # --- sessions ------------------------------------------------------------------------

    def list_sessions(self, all: bool = True) -> list[dict]:
        listed = [self._session(name, status) for name, status in self.sessions().items()]
        return listed if all else [s for s in listed if s["status"] != STOPPED]

    def create_session(self, name: str, config: dict, start: bool = True) -> dict:
        log.info("Development channel: session %s created (not WhatsApp; nothing is sent anywhere).", name)
        return self._session(name, WORKING if start else STOPPED)

    def get_session(self, name: str) -> dict:
        """The session as ChronoFlow stored it: a dev session has no other state."""
        status = self.sessions().get(name)
        if status is None:
            raise WahaError(f"The development channel has no session {name!r}.", 404, permanent=True)
        return self._session(name, status)

    def update_session(self, name: str, config: dict) -> dict:
        return self.get_session(name)

    def delete_session(self, name: str) -> None:
        log.info("Development channel: session %s deleted.", name)

    def start_session(self, name: str) -> dict:
        return self._session(name, WORKING)

    def restart_session(self, name: str) -> dict:
        return self._session(name, WORKING)

    def stop_session(self, name: str) -> dict:
        return self._session(name, STOPPED)

    def logout_session(self, name: str) -> dict:
        """Like WAHA, the session then waits for a scan: of the fake QR (start it to "scan")."""
        return self._session(name, SCAN_QR_CODE)

    def get_me(self, name: str) -> dict | None:
        return dict(DEV_ME)

    def _session(self, name: str, status: str) -> dict:
        me = dict(DEV_ME) if status == WORKING else None
        return {"name": name, "status": status, "me": me, "engine": {"engine": self.engine}}

    # --- login ---------------------------------------------------------------------------

    def get_qr_image(self, name: str) -> bytes:
        """A QR that says, once scanned, that it is not WhatsApp's."""
        png = io.BytesIO()
        segno.make(QR_TEXT, error="m").save(png, kind="png", scale=8, border=2)
        return png.getvalue()

    def get_qr_value(self, name: str) -> str:
        return QR_TEXT

    def request_code(self, name: str, phone_number: str) -> dict:
        return {"code": "DEV0-0000"}

    # --- sending -------------------------------------------------------------------------

    def send_text(self, session: str, chat_id: str, text: str) -> dict:
        return self._sent(session, chat_id, "text", text)

    def send_image(self, session: str, chat_id: str, file: dict, caption: str = "") -> dict:
        return self._sent(session, chat_id, "image", caption or _file_name(file))

    def send_file(self, session: str, chat_id: str, file: dict, caption: str = "") -> dict:
        return self._sent(session, chat_id, "file", caption or _file_name(file))

    def send_voice(self, session: str, chat_id: str, file: dict, convert: bool = True) -> dict:
        return self._sent(session, chat_id, "voice", _file_name(file))

    def send_video(self, session: str, chat_id: str, file: dict, caption: str = "", convert: bool = True) -> dict:
        return self._sent(session, chat_id, "video", caption or _file_name(file))

    def check_exists(self, session: str, phone: str) -> dict:
        return {"numberExists": True, "chatId": f"{phone}@c.us"}

    def _sent(self, session: str, chat_id: str, kind: str, text: str) -> dict:
        message_id = f"true_{chat_id}_DEV{secrets.token_hex(8).upper()}"
        # The log is the "outbox": what would have gone out, in full (a message holds no secret of ours).
        log.info("Development channel (not WhatsApp) %s would send %s to %s: %s", session, kind, chat_id, text,
                 extra={"channel": session, "event": "message.dev_sent"})
        return {"id": message_id}

    # --- the governor's human-looking steps, contacts' lookups, media (nothing to do here) ----

    def send_seen(self, session: str, chat_id: str, message_ids: list[str] | None = None) -> dict:
        return {}

    def start_typing(self, session: str, chat_id: str) -> dict:
        return {}

    def stop_typing(self, session: str, chat_id: str) -> dict:
        return {}

    def set_presence(self, session: str, presence: str, chat_id: str | None = None) -> dict:
        return {}

    def find_phone_by_lid(self, session: str, lid: str) -> dict:
        return {"lid": lid, "pn": None}  # a development channel knows no hidden ids

    def download_file(self, path: str, max_bytes: int):
        raise WahaError("A development channel has no media to download.", 404, permanent=True)

    # --- server --------------------------------------------------------------------------

    def server_version(self) -> dict:
        return {"version": "dev", "engine": self.engine, "tier": LABEL}


def _file_name(file: dict) -> str:
    return str((file or {}).get("filename") or (file or {}).get("url") or "(attachment)")
