"""What the generated OpenAPI schema cannot guess by itself.

- ``document_errors``: every operation lists the errors it can answer (400 field errors,
  401, 403, 404, 502 from WAHA) with their bodies, not only its success.
- ``document_plain_views``: the webhook receivers are plain Django views (WAHA and
  integrators post to them, signed), which drf-spectacular does not see; described here.
- Extensions for the original system's ``/waha/sessions`` routes, plain APIViews with no
  serializer to read their shapes from.

Hooks are named in SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]; the extensions register
when this module is imported (chronoflow/urls.py does).
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from whatsapp.api import QR_RESPONSES

ERROR_COMPONENTS = {
    # Every 400: refused fields, or a body that could not be read at all (DRF's ParseError:
    # bad JSON, too deep, a broken multipart), which has no field to name and says {"detail"}.
    "FieldErrors": {
        "description": "Bad input, nothing saved: the refused fields with their messages, or `{\"detail\"}` "
                       "when the body could not be read at all (not JSON, nested too deep).",
        "anyOf": [{"$ref": "#/components/schemas/ErrorsByField"}, {"$ref": "#/components/schemas/Detail"}],
    },
    "ErrorsByField": {
        "type": "object",
        "description": "Each refused field (or `non_field_errors`) with its messages. A nested object (a "
                       "message trigger, a list's items by index) has the same shape inside.",
        "additionalProperties": {"anyOf": [
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/ErrorsByField"}]}},
            {"$ref": "#/components/schemas/ErrorsByField"},
        ]},
        "example": {"schedule": ["Could not read 'every blue moon'. Accepted forms: ..."]},
    },
    "Detail": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "WahaFailure": {
        "type": "object",
        "description": "WAHA refused the request or could not be reached.",
        "properties": {"detail": {"type": "string"}, "waha_status": {"type": "integer", "nullable": True}},
        "required": ["detail"],
    },
}
PUBLIC_PREFIXES = ("/health", "/whatsapp/webhooks", "/whatsapp/media", "/waha/webhooks", "/hooks")
WAHA_PREFIXES = ("/api/channels/", "/waha/sessions")
# Query parameters that cannot be refused: a bad page number is a 404, a bad format a 404 too.
# (A bad page_size is a 400 naming it, so it counts as input.)
NOT_FILTERS = {"page", "format"}


def _response(description: str, component: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}}


def errors_for(path: str, method: str, operation: dict) -> dict:
    """The error responses one operation can give, keyed by status code."""
    errors = {}
    filters = [p for p in operation.get("parameters", []) if p.get("in") == "query" and p["name"] not in NOT_FILTERS]
    for parameter in filters:
        if parameter["name"] == "page_size":
            parameter["schema"]["minimum"] = 1  # 0 or less is a 400; past the maximum, the largest page
        else:
            # django-filter reads ?status= (an empty value, as the browsable API's filter form sends) as no filter.
            parameter["allowEmptyValue"] = True
    has_input = "requestBody" in operation or bool(filters)
    if has_input:
        errors["400"] = _response("Bad input, by field", "FieldErrors")
    if not path.startswith(PUBLIC_PREFIXES):
        errors["401"] = _response("No or bad credentials", "Detail")
        errors["403"] = _response("Not allowed for this user", "Detail")
    pages = any(p.get("in") == "query" and p["name"] == "page" for p in operation.get("parameters", []))
    if "{" in path or pages:
        errors["404"] = _response("No such object, or no such page (`?page=` 0, past the last, or not a number)"
                                  if pages else "No such object", "Detail")
    if not path.startswith("/health"):  # health probes are never throttled
        errors["429"] = _response("Too many requests: retry after the Retry-After header's seconds", "Detail")
    if path.startswith(WAHA_PREFIXES) and (method != "get" or path.endswith("/qr/") or path.endswith("/qr")):
        errors["502"] = _response("WAHA refused or is unreachable", "WahaFailure")
    return errors


def document_errors(result: dict, generator, request, public: bool) -> dict:
    """POSTPROCESSING hook: add the error responses (and their schemas) to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_COMPONENTS)
    for path, item in result.get("paths", {}).items():
        if path in PLAIN_VIEWS:  # documented by hand, refusals included
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                for code, response in errors_for(path, method, operation).items():
                    declared = operation["responses"].setdefault(code, response)
                    if code == "400" and declared is not response:
                        _or_field_errors(declared)  # its own 400 shape, and the refused-fields one
    return result


def _or_field_errors(response: dict) -> None:
    """An operation documenting its own 400 (an import's row report) can still refuse a field."""
    field_errors = {"$ref": "#/components/schemas/FieldErrors"}
    for media in response.get("content", {}).values():
        if media.get("schema") != field_errors:
            media["schema"] = {"anyOf": [media["schema"], field_errors]}


# --- Plain Django views: the webhook receivers ----------------------------------------------

WEBHOOK_COMPONENTS = {
    "WebhookAccepted": {
        "type": "object",
        "properties": {"ok": {"type": "boolean", "enum": [True]},
                       "duplicate": {"type": "boolean", "description": "Delivered before: stored once, ignored now"}},
        "required": ["ok", "duplicate"],
    },
    "HookRun": {
        "type": "object",
        "properties": {
            "run_id": {"type": "integer"}, "status": {"$ref": "#/components/schemas/RunStatusEnum"},
            "result": {"nullable": True, "description": "Once the run ended"},
            "error": {"type": "string", "nullable": True}, "http_status": {"type": "integer", "nullable": True},
        },
        "required": ["run_id", "status"],
    },
    "HookRefused": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
    "WebhookRefused": {
        "type": "object",
        "properties": {"ok": {"type": "boolean", "enum": [False]}, "error": {"type": "string"}},
        "required": ["ok", "error"],
    },
}


def _receiver(operation_id: str, summary: str, description: str, parameters: list[dict], refusals: dict) -> dict:
    return {"post": {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["webhooks"],
        "security": [],
        "parameters": parameters,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": "A WAHA event envelope: id, event, session, payload, ...",
            "required": ["event"], "properties": {"event": {"type": "string"}}}}}},
        "responses": {
            "200": _response("Stored (a redelivery is answered the same, and ignored)", "WebhookAccepted"),
            **{code: _response(text, "WebhookRefused") for code, text in refusals.items()},
            "429": _response("Too many requests for this token: retry after Retry-After seconds", "HookRefused"),
        },
    }}


_SIGNED = ("Signed by WAHA with HMAC-SHA512 of the raw body in X-Webhook-Hmac. ChronoFlow configures "
           "this URL on each session itself.")
PLAIN_VIEWS = {
    "/whatsapp/webhooks/{token}": _receiver(
        "whatsapp_webhook", "WAHA webhook", "WAHA posts session.status, message and message.ack events here. " + _SIGNED,
        [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "The channel's secret webhook token."}],
        {"400": "Not a WAHA event, or no event id", "401": "Unknown token, or missing or wrong signature"}),
    "/whatsapp/webhooks/": _receiver(
        "whatsapp_webhook_without_token", "WAHA webhook without token",
        "Always refused: the channel's token is missing from the URL.", [], {"401": "The token is missing"}),
    "/hooks/{token}": {"post": {
        "operationId": "integrator_hook",
        "summary": "Integrator webhook: run the chrono now",
        "description": "Runs the hook's chrono with the posted JSON as the run's input. When the hook has a signing "
                       "key, X-ChronoFlow-Signature: sha256=<hex HMAC-SHA256 of the raw body> is required. "
                       "With ?wait=1 the answer waits (up to HOOK_WAIT_SECONDS) for the run to end.",
        "tags": ["webhooks"],
        "security": [],
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "The hook's secret token."},
            {"name": "wait", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1"]},
             "description": "Wait for the run to end and answer with its outcome."},
            {"name": "X-ChronoFlow-Signature", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {}}}},
        "responses": {
            "200": _response("The run ended (with ?wait=1)", "HookRun"),
            "202": _response("The run is queued (or still going after the wait)", "HookRun"),
            **{code: _response(text, "HookRefused") for code, text in {
                "400": "The body is not JSON", "401": "Missing or wrong signature", "404": "No webhook has this URL",
                "409": "The chrono is paused", "413": "The body is too large",
                "429": "Too many requests for this token: retry after Retry-After seconds"}.items()},
        },
    }},
    "/whatsapp/media/{token}": {"get": {
        "operationId": "whatsapp_media_link",
        "summary": "Inbound WhatsApp media, by signed link",
        "description": "The file of an inbound message, as ChronoFlow stored it. Runs started by a message get this "
                       "link as input.media.url; it is signed and expires after WHATSAPP_MEDIA_LINK_MAX_AGE_S.",
        "tags": ["whatsapp"],
        "security": [],
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "The signed token of the link."}],
        "responses": {
            "200": {"description": "The file (images, audio and video inline; anything else as an attachment)",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "403": _response("The link has expired", "Detail"),
            "404": _response("The link is forged, or its message has no stored file", "Detail"),
        },
    }},
    "/waha/webhooks/sessions/status": _receiver(
        "waha_status_webhook", "WAHA status webhook of the original system",
        "The original system's route for session.status events: authenticated by ?token=, or by a signature "
        "under WAHA_WEBHOOK_HMAC_KEY, the envelope's session then naming the channel.",
        [{"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
          "description": "The channel's secret webhook token."}],
        {"400": "Not a WAHA event", "401": "No token and no valid signature", "404": "No channel has that session"}),
}


def document_plain_views(result: dict, generator, request, public: bool) -> dict:
    """POSTPROCESSING hook: add the webhook receivers, which are plain Django views."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(WEBHOOK_COMPONENTS)
    for path, item in PLAIN_VIEWS.items():
        result.setdefault("paths", {}).setdefault(path, item)
    return result


# --- The original system's /waha/sessions routes (whatsapp/compat.py) ------------------------

SESSION_FIELDS = {
    "name": serializers.CharField(help_text="WAHA session name"),
    "status": serializers.CharField(help_text="WAHA session status, e.g. WORKING"),
    "me": serializers.JSONField(allow_null=True, help_text="The WhatsApp account, once logged in"),
    "id": serializers.IntegerField(help_text="ChronoFlow channel id"),
    "displayName": serializers.CharField(),
    "shouldRun": serializers.BooleanField(),
    "lastError": serializers.CharField(),
}
SESSION = inline_serializer("WahaSession", SESSION_FIELDS)
# The same class, not a second one of the same name: two "WahaSession" classes collide and the
# list lost its body in the schema.
SESSIONS = type(SESSION)(many=True)
NEW_SESSION = inline_serializer("WahaSessionCreate", {
    "name": serializers.CharField(help_text="Session name: letters, digits, '-' and '_'"),
    "displayName": serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                         help_text="Empty or null: the session name"),
    "start": serializers.BooleanField(required=False, default=True),
})
# Optional, as Session.put reads it: without a displayName the name stays and the config is pushed again.
RENAME_SESSION = inline_serializer("WahaSessionRename", {"displayName": serializers.CharField(required=False)})
SESSION_PARAM = OpenApiParameter("session", OpenApiTypes.STR, OpenApiParameter.PATH, description="WAHA session name")
TAGS = ["waha (original system)"]


class SessionsDocs(OpenApiViewExtension):
    target_class = "whatsapp.compat.Sessions"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(operation_id="waha_sessions_list", tags=TAGS, responses=SESSIONS)
            def get(self, *args, **kwargs):
                return super().get(*args, **kwargs)

            @extend_schema(operation_id="waha_sessions_create", tags=TAGS, request=NEW_SESSION,
                           responses={201: SESSION})
            def post(self, *args, **kwargs):
                return super().post(*args, **kwargs)

        return Documented


class SessionDocs(OpenApiViewExtension):
    target_class = "whatsapp.compat.Session"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(operation_id="waha_session_get", tags=TAGS, parameters=[SESSION_PARAM], responses=SESSION)
            def get(self, *args, **kwargs):
                return super().get(*args, **kwargs)

            @extend_schema(operation_id="waha_session_rename", tags=TAGS, parameters=[SESSION_PARAM],
                           request=RENAME_SESSION, responses=SESSION)
            def put(self, *args, **kwargs):
                return super().put(*args, **kwargs)

            @extend_schema(operation_id="waha_session_delete", tags=TAGS, parameters=[SESSION_PARAM],
                           responses={204: None})
            def delete(self, *args, **kwargs):
                return super().delete(*args, **kwargs)

        return Documented


class SessionActionDocs(OpenApiViewExtension):
    target_class = "whatsapp.compat.SessionAction"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="waha_session_action", tags=TAGS, request=None, responses=SESSION,
                parameters=[SESSION_PARAM, OpenApiParameter(
                    "action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["start", "stop", "logout", "restart"])],
            )
            def post(self, *args, **kwargs):
                return super().post(*args, **kwargs)

        return Documented


class SessionQrDocs(OpenApiViewExtension):
    target_class = "whatsapp.compat.SessionQr"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="waha_session_qr", tags=TAGS, parameters=[SESSION_PARAM], responses=QR_RESPONSES,
            )
            def get(self, *args, **kwargs):
                return super().get(*args, **kwargs)

        return Documented
