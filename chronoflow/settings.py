"""ChronoFlow settings, read from the environment (see .env.example for every variable).

Defaults give the embedded deployment: a SQLite file and Celery on its filesystem
transport under DATA_DIR, so nothing but Python is needed.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from chronoflow.env import (
    env_bool, env_choice, env_int, env_json_object, env_list, env_rate, env_secret, env_str, env_timezone, env_url,
    load_env_file,
)
from chronoflow.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
# A .env beside manage.py (or ENV_FILE) is read first, as docker-compose reads it; the real
# environment wins over it. `make run` and every manage.py command see the same settings.
ENV_FILE_LOADED = load_env_file(Path(env_str("ENV_FILE", str(BASE_DIR / ".env"))))
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    # The embedded default keeps a generated key in DATA_DIR so sessions survive restarts.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PORT = env_int("PORT", 8000, minimum=1)
# gunicorn: processes, and threads in each, so a request that waits (a hook's ?wait=1) holds one thread, not the site.
WEB_WORKERS = env_int("WEB_WORKERS", 2, minimum=1)
WEB_THREADS = env_int("WEB_THREADS", 8, minimum=1)

INSTALLED_APPS = [
    "chronoflow.admin_site.ChronoFlowAdminConfig",  # django.contrib.admin with ChronoFlow's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_celery_beat",
    "django_celery_results",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "automations",
    "whatsapp",
    "functions",
    "assistants",
    "contacts",
    "accounts",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's Accept-Language (or the language cookie), then the operator's own choice.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.OperatorPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chronoflow.urls"
WSGI_APPLICATION = "chronoflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
except Exception as exc:  # dj_database_url raises bare ValueError/KeyError on junk
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL ({exc}): use sqlite:///path or postgres://user@host/db") from None
if not _db.get("ENGINE"):
    raise ImproperlyConfigured(f"DATABASE_URL has an unsupported scheme: {DATABASE_URL.split(':', 1)[0]!r}")
DATABASE_SERVER_SIDE_BINDING = env_bool("DATABASE_SERVER_SIDE_BINDING", True)  # read (and checked) whatever the engine
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers run beside the single writer,
    # and IMMEDIATE transactions wait for the lock instead of failing on upgrade.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so worker and beat processes started by tests see it.
    _db["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql" and DATABASE_SERVER_SIDE_BINDING:
    # Parameters sent apart from the SQL, and a statement run five times on a connection is
    # prepared (psycopg): the worker stops quoting values into SQL text and PostgreSQL stops
    # planning the run's few statements anew each time. End to end at 100,000 chronos this took
    # the drain from 99 to 122 runs/s (README "End-to-end benchmark"). Off behind a pooler in
    # transaction mode (PgBouncer before 1.21), which cannot keep prepared statements.
    _db.setdefault("OPTIONS", {})["server_side_binding"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- Language and time zone -------------------------------------------------------------
# The language of a request: the operator's profile (accounts/), else the browser's
# Accept-Language, else LANGUAGE_CODE, which also is the language of management commands.
# Brazilian deployments set LANGUAGE_CODE=pt-br.
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "en-us", ("en-us", "en", "pt-br"))
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # one catalogue for all our apps (make messages)
USE_I18N = True
# Dates and times as operators read them: with seconds and the zone (chronoflow/formats/).
FORMAT_MODULE_PATH = ["chronoflow.formats"]
USE_TZ = True  # stored in UTC, always
# Per-chrono time zones are data; this is the default a new chrono gets.
DEFAULT_TIMEZONE = env_timezone("DEFAULT_TIMEZONE", "America/Sao_Paulo")
# The zone times are shown in (admin, API, commands) to an operator without one of their own
# in their profile. Defaults to DEFAULT_TIMEZONE, so a new chrono's preview and its runs agree.
TIME_ZONE = env_timezone("TIME_ZONE", DEFAULT_TIMEZONE)

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve admin assets from the app directories without collectstatic in the embedded mode.
WHITENOISE_USE_FINDERS = True

# Uploaded and downloaded files (inbound WhatsApp media). Never served under MEDIA_URL:
# staff reach them through the admin, functions through signed links (whatsapp/media.py).
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"  # no route serves it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Production can keep WhatsApp media elsewhere (any django-storages backend, e.g.
# storages.backends.s3.S3Storage with OPTIONS {"bucket_name": ...}); default: MEDIA_ROOT.
if env_str("WHATSAPP_MEDIA_STORAGE"):
    STORAGES["whatsapp_media"] = {"BACKEND": env_str("WHATSAPP_MEDIA_STORAGE"),
                                  "OPTIONS": env_json_object("WHATSAPP_MEDIA_STORAGE_OPTIONS")}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["chronoflow.permissions.StaffOrModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's defaults, with JSON nesting bounded (chronoflow/jsonbody.py: deep bodies were a RecursionError).
    # Oversized form and multipart bodies answer a JSON 400, not Django's HTML page.
    "EXCEPTION_HANDLER": "chronoflow.apierrors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "chronoflow.jsonbody.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/, Redoc at /api/redoc/ (assets served by us).
SPECTACULAR_SETTINGS = {
    "TITLE": "ChronoFlow API",
    "DESCRIPTION": "Chronos (a schedule plus an HTTP, WhatsApp or Python-function target), their runs, "
                   "WhatsApp channels and messages. Authenticate with `Authorization: Token <key>` or a session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/",  # tags from the segment after it: chronos, runs, channels, ...
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chronoflow.schema.document_plain_views",
        "chronoflow.schema.document_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "automations.models.ChronoRun.Status",
        "RunTriggerEnum": "automations.models.ChronoRun.Trigger",
        "TargetTypeEnum": "automations.models.Chrono.TargetType",
        "ChannelStatusEnum": "whatsapp.models.Channel.Status",
        "MessageStatusEnum": "whatsapp.models.Message.Status",
    },
}
# Prometheus scrapes /metrics with Authorization: Bearer <METRICS_TOKEN>; without one, staff only.
METRICS_TOKEN = env_secret("METRICS_TOKEN")

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    # The filesystem transport ignores the host; naming one keeps kombu from warning
    # "No hostname was supplied" in every command that publishes.
    CELERY_BROKER_URL = "filesystem://localhost/"
    # An empty queue is looked at again after polling_interval (kombu's default, 1 s, made every
    # hop of a task that sends the next one, such as a campaign's sends, wait up to a second).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "polling_interval": 0.1,
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless this
# is set: a new PostgreSQL connection per run was about 7 ms of a 15 ms run. It now closes every
# 2,000 tasks, and chronoflow/celery.py drops a connection before a task when it is unusable or
# older than CONN_MAX_AGE, as Django does per request.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers wait on the network (webhooks, WAHA, functions' ctx.http): a pool of threads keeps
# many runs in flight on two cores (README "Sizing"); function code still runs in its sandbox
# child process. prefork stays available for CPU-heavy deployments.
WORKER_POOL = env_str("WORKER_POOL", "threads")
if WORKER_POOL not in ("threads", "prefork", "solo"):
    raise ImproperlyConfigured(f"WORKER_POOL must be threads, prefork or solo, got {WORKER_POOL!r}")
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 16 if WORKER_POOL == "threads" else 2, minimum=1)
CELERY_WORKER_POOL = WORKER_POOL
CELERY_WORKER_CONCURRENCY = WORKER_CONCURRENCY
# Housekeeping (the reaper, retention, the WhatsApp session monitor) has its own queue, so a
# backlog of runs cannot delay the recovery of lost runs (docker-compose gives it its own worker).
RUN_QUEUE, HOUSEKEEPING_QUEUE = "celery", "housekeeping"
CELERY_TASK_DEFAULT_QUEUE = RUN_QUEUE
CELERY_TASK_ROUTES = {name: {"queue": HOUSEKEEPING_QUEUE} for name in (
    "automations.tasks.reap_runs", "automations.tasks.prune_runs", "whatsapp.tasks.check_sessions")}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "automations.beat.scheduler:ChronoScheduler"
CELERY_BEAT_SYNC_EVERY = 1

# --- Execution policy -----------------------------------------------------------------
RUN_MAX_ATTEMPTS = env_int("RUN_MAX_ATTEMPTS", 3, minimum=1)
RUN_BACKOFF_MS = env_int("RUN_BACKOFF_MS", 1000, minimum=0)
HTTP_REQUEST_TIMEOUT_MS = env_int("HTTP_REQUEST_TIMEOUT_MS", 10000, minimum=1)
HTTP_MAX_RETRIES = env_int("HTTP_MAX_RETRIES", 0, minimum=0)
HTTP_MAX_RESPONSE_BYTES = env_int("HTTP_MAX_RESPONSE_BYTES", 1_000_000, minimum=1024)
ALLOWED_METHODS = [m.upper() for m in env_list("ALLOWED_METHODS", ["GET", "POST", "PUT", "PATCH", "DELETE"])]
_unknown_methods = set(ALLOWED_METHODS) - {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
if _unknown_methods:
    raise ImproperlyConfigured(f"ALLOWED_METHODS has unknown HTTP methods: {', '.join(sorted(_unknown_methods))}")

# --- User functions -------------------------------------------------------------------
FUNCTION_HTTP_ALLOWLIST = env_list("FUNCTION_HTTP_ALLOWLIST")
FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = env_list("FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST")
FUNCTION_RATE_LIMIT_PER_SECOND = env_int("FUNCTION_RATE_LIMIT_PER_SECOND", 10, minimum=1)
# Sandbox caps (functions/sandbox.py, functions/sdk.py). Children pre-started per worker process.
FUNCTION_POOL_SIZE = env_int("FUNCTION_POOL_SIZE", 2, minimum=0)
FUNCTION_SANDBOX_USER = env_str("FUNCTION_SANDBOX_USER", "nobody")  # used when the worker runs as root (check functions.E001)
FUNCTION_START_TIMEOUT_MS = env_int("FUNCTION_START_TIMEOUT_MS", 10000, minimum=100)
FUNCTION_MAX_LOG_BYTES = env_int("FUNCTION_MAX_LOG_BYTES", 65536, minimum=1024)
FUNCTION_MAX_RESULT_BYTES = env_int("FUNCTION_MAX_RESULT_BYTES", 65536, minimum=1024)
FUNCTION_MAX_STATE_BYTES = env_int("FUNCTION_MAX_STATE_BYTES", 65536, minimum=1024)
FUNCTION_MAX_HTTP_RESPONSE_BYTES = env_int("FUNCTION_MAX_HTTP_RESPONSE_BYTES", 1_000_000, minimum=1024)
FUNCTION_MAX_OUTPUT_BYTES = env_int("FUNCTION_MAX_OUTPUT_BYTES", 8_000_000, minimum=65536)

# --- WhatsApp (WAHA, or the development channel) --------------------------------------
# WAHA_BASE_URL stays "" unless the environment sets it: "" is how the settings say "not
# set". Who sends is WHATSAPP_PROVIDER: "waha", "dev" (the development channel, which
# records and logs messages and talks to nothing: not WhatsApp), or "" to decide by
# WAHA_BASE_URL: waha when it is set, dev when not (make run on a fresh clone). Resolved at
# call time by whatsapp.models.current_provider(), so overriding WAHA_BASE_URL alone (as
# the tests do) selects WAHA. WHATSAPP_PROVIDER=waha without a URL means http://localhost:3000.
WAHA_BASE_URL = env_url("WAHA_BASE_URL", "")
WHATSAPP_PROVIDER = env_choice("WHATSAPP_PROVIDER", "", ("", "waha", "dev"))
WAHA_API_KEY = env_secret("WAHA_API_KEY")
WAHA_WEBHOOK_HMAC_KEY = env_secret("WAHA_WEBHOOK_HMAC_KEY")
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", f"http://localhost:{PORT}")  # WAHA must reach it (check whatsapp.W001)
WAHA_TIMEOUT_MS = env_int("WAHA_TIMEOUT_MS", 15000, minimum=1)
HEALTH_WAHA_TIMEOUT_MS = env_int("HEALTH_WAHA_TIMEOUT_MS", 2000, minimum=1)  # /health/whatsapp asks WAHA this fast
# Inbound media is downloaded from WAHA when its webhook is processed (WAHA deletes it after
# WHATSAPP_FILES_LIFETIME): files bigger than this are not kept, the reason is recorded.
WHATSAPP_MEDIA_MAX_BYTES = env_int("WHATSAPP_MEDIA_MAX_BYTES", 16 * 1024 * 1024, minimum=1024)
# Outbound attachments (whatsapp/attachments.py): an uploaded file bigger than this is refused
# (it goes to WAHA inline, base64); WhatsApp itself takes at most 16 MB of image, audio or video.
WHATSAPP_ATTACHMENT_MAX_BYTES = env_int("WHATSAPP_ATTACHMENT_MAX_BYTES", 16 * 1024 * 1024, minimum=1024)
# How long a media link handed to functions (run input media.url) stays valid.
WHATSAPP_MEDIA_LINK_MAX_AGE_S = env_int("WHATSAPP_MEDIA_LINK_MAX_AGE_S", 86400, minimum=60)
# Session health monitor: how often it compares channels with WAHA, and how it backs off
# restarting a session that keeps failing (base delay doubles per try, then it gives up).
WAHA_MONITOR_INTERVAL_S = env_int("WAHA_MONITOR_INTERVAL_S", 300, minimum=10)
WAHA_MONITOR_MAX_RESTARTS = env_int("WAHA_MONITOR_MAX_RESTARTS", 5, minimum=0)
WAHA_MONITOR_BACKOFF_S = env_int("WAHA_MONITOR_BACKOFF_S", 60, minimum=1)
# A sent message with no delivery ack after this long gets a note (the monitor looks each round).
WHATSAPP_ACK_TIMEOUT_S = env_int("WHATSAPP_ACK_TIMEOUT_S", 3600, minimum=60)
# Governed channels' outboxes (whatsapp/outbox.py) are looked at this often as a safety
# net; a step due sooner is scheduled for its own time.
WAHA_SEND_PUMP_S = env_int("WAHA_SEND_PUMP_S", 15, minimum=1)
# A governed send left ``sending`` this long had its worker die mid-call (WAHA may have sent
# it): it becomes ``unconfirmed`` and is never sent again. Must outlast a live call.
WAHA_SEND_LOST_AFTER_S = env_int("WAHA_SEND_LOST_AFTER_S", 600, minimum=1)
if WAHA_SEND_LOST_AFTER_S * 1000 <= WAHA_TIMEOUT_MS:
    raise ImproperlyConfigured("WAHA_SEND_LOST_AFTER_S must be longer than WAHA_TIMEOUT_MS, or a send still "
                               "waiting for WAHA's answer would be taken for lost.")
# django-celery-beat's scheduler turns this into a PeriodicTask row at beat start-up.
CELERY_BEAT_SCHEDULE = {
    "whatsapp-session-monitor": {"task": "whatsapp.tasks.check_sessions", "schedule": float(WAHA_MONITOR_INTERVAL_S)},
    "whatsapp-send-pump": {"task": "whatsapp.tasks.pump_sends", "schedule": float(WAHA_SEND_PUMP_S)},
}

# --- Logging --------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line with chrono_id, run_id, channel and event.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = logging_config(LOG_FORMAT, env_str("LOG_LEVEL", "INFO").upper())

# --- Reliability and security (README "Guarantees") -------------------------------------
# A running attempt older than its target's longest duration plus this grace was lost
# with its worker; the reaper (every RUN_REAPER_INTERVAL_S) retries or times it out, and
# re-sends pending runs overdue by the grace.
RUN_REAPER_GRACE_S = env_int("RUN_REAPER_GRACE_S", 60, minimum=0)
RUN_REAPER_INTERVAL_S = env_int("RUN_REAPER_INTERVAL_S", 30, minimum=1)
RUN_MAX_BACKOFF_S = env_int("RUN_MAX_BACKOFF_S", 3600, minimum=1)
# How long a worker keeps trying to record a finished attempt while the database is down.
RUN_DB_RETRY_S = env_int("RUN_DB_RETRY_S", 120, minimum=0)
# Hook and message-triggered runs arriving while a run of the same chrono is in progress wait
# in line, up to this many per chrono; past it a hook answers 429 with Retry-After.
EVENT_QUEUE_MAX = env_int("EVENT_QUEUE_MAX", 100, minimum=1)
# A MESSAGE run whose channel is not WORKING waits for it (checking every
# MESSAGE_CHANNEL_CHECK_S) up to this long before its attempts start to count.
MESSAGE_CHANNEL_WAIT_S = env_int("MESSAGE_CHANNEL_WAIT_S", 900, minimum=0)
MESSAGE_CHANNEL_CHECK_S = env_int("MESSAGE_CHANNEL_CHECK_S", 30, minimum=1)
RUN_RETENTION_DAYS = env_int("RUN_RETENTION_DAYS", 30, minimum=0)  # 0: keep runs whatever their age
RUN_RETENTION_PER_CHRONO = env_int("RUN_RETENTION_PER_CHRONO", 1000, minimum=0)  # 0: no per-chrono limit
RUN_PRUNE_BATCH = env_int("RUN_PRUNE_BATCH", 1000, minimum=1)
RUN_PRUNE_INTERVAL_S = env_int("RUN_PRUNE_INTERVAL_S", 3600, minimum=60)
CELERY_BEAT_SCHEDULE["automations-reap-runs"] = {"task": "automations.tasks.reap_runs",
                                                 "schedule": float(RUN_REAPER_INTERVAL_S)}
CELERY_BEAT_SCHEDULE["automations-prune-runs"] = {"task": "automations.tasks.prune_runs",
                                                  "schedule": float(RUN_PRUNE_INTERVAL_S)}
# Campaigns (campaigns/sending.py): queued rows with nothing claimed for CAMPAIGN_STALL_S lost
# their tasks (a dead worker) and are handed out again; the housekeeping pass also starts due ones.
CAMPAIGN_STALL_S = env_int("CAMPAIGN_STALL_S", 120, minimum=1)
CAMPAIGN_REAPER_INTERVAL_S = env_int("CAMPAIGN_REAPER_INTERVAL_S", 30, minimum=1)
CELERY_BEAT_SCHEDULE["campaigns-reap"] = {"task": "campaigns.tasks.reap_campaigns",
                                          "schedule": float(CAMPAIGN_REAPER_INTERVAL_S)}
CELERY_TASK_ROUTES["campaigns.tasks.reap_campaigns"] = {"queue": HOUSEKEEPING_QUEUE}
if REDIS_URL:
    # A message whose worker died unacknowledged is delivered again after this long (and
    # the restore sweep looks every REDIS_RESTORE_INTERVAL_S). Keep it above the longest run.
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        visibility_timeout=env_int("REDIS_VISIBILITY_TIMEOUT_S", 3600, minimum=1),
        unacked_restore_interval=env_int("REDIS_RESTORE_INTERVAL_S", 10, minimum=1),
        unacked_restore_throttle=1,
    )
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "chronoflow"}}

# HTTP targets: refuse loopback, private, link-local and other non-public addresses, after
# DNS resolution and on the connected socket itself; HTTP_TARGET_ALLOW_NETWORKS exempts CIDRs.
HTTP_TARGET_DENY_PRIVATE = env_bool("HTTP_TARGET_DENY_PRIVATE", False)
HTTP_TARGET_ALLOW_NETWORKS = env_list("HTTP_TARGET_ALLOW_NETWORKS")
try:
    import ipaddress as _ipaddress

    for _net in HTTP_TARGET_ALLOW_NETWORKS:
        _ipaddress.ip_network(_net, strict=False)
except ValueError as _exc:
    raise ImproperlyConfigured(f"HTTP_TARGET_ALLOW_NETWORKS must be CIDR networks such as 10.0.5.0/24: {_exc}") from None

# Size caps: a larger input is refused with a 400 naming the field.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 1_048_576, minimum=1024)  # any request body, webhooks included
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
MAX_PAYLOAD_BYTES = env_int("MAX_PAYLOAD_BYTES", 262_144, minimum=64)  # HTTP payload, extras, function env (JSON)
MAX_HEADERS = env_int("MAX_HEADERS", 50, minimum=1)
MAX_HEADER_BYTES = env_int("MAX_HEADER_BYTES", 8192, minimum=64)  # one header's name + value
MAX_TEMPLATE_CHARS = env_int("MAX_TEMPLATE_CHARS", 10_000, minimum=16)
MAX_RECIPIENTS = env_int("MAX_RECIPIENTS", 1000, minimum=1)
MAX_FUNCTION_CODE_BYTES = env_int("MAX_FUNCTION_CODE_BYTES", 100_000, minimum=256)

# API throttling (DRF rates: N/second|minute|hour|day): per user, per anonymous client,
# and per webhook token on the inbound webhook endpoints.
API_THROTTLE_USER = env_rate("API_THROTTLE_USER", "1200/minute")
API_THROTTLE_ANON = env_rate("API_THROTTLE_ANON", "60/minute")
WEBHOOK_THROTTLE = env_rate("WEBHOOK_THROTTLE", "600/minute")
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "rest_framework.throttling.UserRateThrottle",
    "rest_framework.throttling.AnonRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"user": API_THROTTLE_USER, "anon": API_THROTTLE_ANON,
                                           "webhook": WEBHOOK_THROTTLE}

# --- Event triggers and alerts (automations/events/hooks.py, alerts.py) ------------------------
# POST /hooks/<token>: bodies above this are refused with 413; ?wait=1 waits this long for the run.
HOOK_MAX_BODY_BYTES = env_int("HOOK_MAX_BODY_BYTES", 262_144, minimum=64)
HOOK_WAIT_SECONDS = env_int("HOOK_WAIT_SECONDS", 5, minimum=0)
# A timestamped hook signature (t=<unix>,v1=...) is accepted this many seconds either side of
# our clock, once; the plain sha256= form has no timestamp and so no replay guard.
HOOK_SIGNATURE_TOLERANCE_S = env_int("HOOK_SIGNATURE_TOLERANCE_S", 300, minimum=1)
# Email alerts go through Django's SMTP backend with these.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_S", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "chronoflow@localhost")

# --- Contacts and consent (contacts/) ------------------------------------------------------
# A whole inbound message equal to one of these (case, accents and spaces aside) opts its
# sender out, or back in, and is answered once with the reply (empty: no reply).
CONSENT_STOP_WORDS = env_list("CONSENT_STOP_WORDS", ["SAIR", "PARAR", "STOP", "CANCELAR", "DESCADASTRAR"])
CONSENT_START_WORDS = env_list("CONSENT_START_WORDS", ["VOLTAR", "START"])
CONSENT_STOP_REPLY = env_str("CONSENT_STOP_REPLY", "Pronto: você não receberá mais mensagens nossas. "
                                                   "Para voltar a receber, responda VOLTAR.")
CONSENT_START_REPLY = env_str("CONSENT_START_REPLY", "Pronto: você voltará a receber nossas mensagens. "
                                                     "Para parar, responda SAIR.")
if set(map(str.upper, CONSENT_STOP_WORDS)) & set(map(str.upper, CONSENT_START_WORDS)):
    raise ImproperlyConfigured("CONSENT_STOP_WORDS and CONSENT_START_WORDS share a word; a word must mean one thing")
# Numbers written without + in an import or the API: "55" reads "(11) 98888-7777" as Brazilian.
CONTACTS_DEFAULT_COUNTRY_CODE = env_str("CONTACTS_DEFAULT_COUNTRY_CODE", "55")
if CONTACTS_DEFAULT_COUNTRY_CODE and not CONTACTS_DEFAULT_COUNTRY_CODE.isdigit():
    raise ImproperlyConfigured(f"CONTACTS_DEFAULT_COUNTRY_CODE must be digits such as 55, got {CONTACTS_DEFAULT_COUNTRY_CODE!r}")
CONTACTS_IMPORT_MAX_BYTES = env_int("CONTACTS_IMPORT_MAX_BYTES", 50_000_000, minimum=1024)
CONTACTS_IMPORT_BATCH = env_int("CONTACTS_IMPORT_BATCH", 1000, minimum=1)
