"""Amends settings: one file, environment variables with safe development defaults."""

import hashlib
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
# Old keys, still accepted after a rotation (sessions, CSRF, anything signed with SECRET_KEY).
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# The long-lived key of every link Amends gives out (printed QR codes, unsubscribe and reply addresses)
# and of the default webhook secret: rotate it on its own, keeping the old one in the fallbacks for as
# long as printed letters may be read (AMENDS_SORRY_LINK_DAYS).
AMENDS_LINK_KEY = env("AMENDS_LINK_KEY", default="") or SECRET_KEY
AMENDS_LINK_KEY_FALLBACKS = env.list("AMENDS_LINK_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "anymail",
    "incidents",
    "apologies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Performance (bench/landing.py): public pages (AMENDS_PUBLIC_PATH_PREFIXES, below) skip everything after
    # this line; they use no session, login, messages or CSRF token. See config/public_paths.py.
    "config.public_paths.PublicPathMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apologies.feedback.middleware.WebhookInputMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# SQLite by default so that a fresh clone runs with nothing else installed.
# WAL and IMMEDIATE transactions let the web process and the worker write side by side.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'amends.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Send logs run to hundreds of MB: uploads stream to a temporary file, never to memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)

# Celery. The default broker is a folder on disk, so `make run` needs no server;
# production sets CELERY_BROKER_URL=redis://...
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    # kombu's folder transport does not create its folders: a fresh clone's worker would stop at once.
    for _folder in (_broker_dir, VAR_DIR / "broker-control"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "broker-control"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A killed worker's task comes back and runs again: every task is idempotent, so that is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A running import whose progress has not moved for this long lost its worker and is run again.
IMPORT_STALE_SECONDS = env.int("IMPORT_STALE_SECONDS", default=120)
# Bounds on what one uploaded file may cost a worker; a file past one is refused with a message naming it.
# Bytes after gunzip: a send log of tens of millions of events fits, a decompression bomb does not.
IMPORT_MAX_DECOMPRESSED_BYTES = env.int("IMPORT_MAX_DECOMPRESSED_BYTES", default=8 * 1024**3)
# Decompressed bytes per compressed byte (judged after the first MB): JSON logs gzip 10-30 times, bombs 1000.
IMPORT_MAX_COMPRESSION_RATIO = env.int("IMPORT_MAX_COMPRESSION_RATIO", default=200)
# JSON nesting levels: ESP events nest 4-6 deep; 30,000 brackets would exhaust a parser's stack.
IMPORT_MAX_JSON_DEPTH = env.int("IMPORT_MAX_JSON_DEPTH", default=64)
# Bytes in one line of NDJSON, one-object-per-line JSON or CSV: one record is a few KB, a batch line a few MB.
IMPORT_MAX_LINE_BYTES = env.int("IMPORT_MAX_LINE_BYTES", default=16 * 1024**2)

# Shared between web and workers: the send rate limit, and try limits on public pages.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://amends")}
# Performance (bench/landing.py): the same Redis cache, reusing its redis-py client between calls.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "config.redis_cache.SharedClientRedisCache"

# Email: captured in the database and shown on the Outbox page until an ESP is configured.
# Set EMAIL_BACKEND to e.g. anymail.backends.postmark.EmailBackend and the ESP's variables.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="apologies.sending.outbox.CapturedEmailBackend")
# The outbox backend's path before the rooms were drawn, still accepted from existing environments.
if EMAIL_BACKEND == "apologies.mail.CapturedEmailBackend":
    EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Amends <sorry@amends.localhost>")
AMENDS_FROM_ADDRESS = env("AMENDS_FROM_ADDRESS", default="sorry@amends.localhost")
# Replies come back to reply+<signed delivery id>@this domain (inbound webhook), unsubscribes too.
AMENDS_REPLY_DOMAIN = env("AMENDS_REPLY_DOMAIN", default="replies.amends.localhost")
AMENDS_SORRY_PATH = "/" + env("AMENDS_SORRY_PATH", default="/sorry/").strip("/") + "/"
# Paths of the public pages (apologies/wayback/urls.py) that config.public_paths serves past the staff middleware.
AMENDS_PUBLIC_PATH_PREFIXES = (AMENDS_SORRY_PATH, "/u/")
AMENDS_SORRY_LINK_DAYS = env.int("AMENDS_SORRY_LINK_DAYS", default=365)
# Wrong codes typed on the public page, per IP address and window (seconds): then HTTP 429.
AMENDS_CODE_TRIES = env.int("AMENDS_CODE_TRIES", default=10)
AMENDS_CODE_TRIES_WINDOW = env.int("AMENDS_CODE_TRIES_WINDOW", default=600)
AMENDS_DOUBLE_OPT_IN_FOR_CODES = env.bool("AMENDS_DOUBLE_OPT_IN_FOR_CODES", default=True)
# The public page wears the brand's name, logo (a path under static/ or an https URL on your own host) and colour.
AMENDS_BRAND_NAME = env("AMENDS_BRAND_NAME", default="Amends demo")
AMENDS_BRAND_LOGO = env("AMENDS_BRAND_LOGO", default="")
AMENDS_BRAND_COLOR = env("AMENDS_BRAND_COLOR", default="#b3261e")
AMENDS_BENCH_VIEWS = env.bool("AMENDS_BENCH_VIEWS", default=False)
# None: use the ESP's batch API where Amends knows it (Mailgun, SendGrid); False: one message per call.
AMENDS_ESP_BATCH = None if env("AMENDS_ESP_BATCH", default="auto") == "auto" else env.bool("AMENDS_ESP_BATCH")
AMENDS_SINGLE_BATCH_SIZE = env.int("AMENDS_SINGLE_BATCH_SIZE", default=20)
AMENDS_SENDERS_PER_CAMPAIGN = env.int("AMENDS_SENDERS_PER_CAMPAIGN", default=2)
AMENDS_SEND_MAX_ATTEMPTS = env.int("AMENDS_SEND_MAX_ATTEMPTS", default=5)
AMENDS_RETRY_BACKOFF_SECONDS = env.float("AMENDS_RETRY_BACKOFF_SECONDS", default=2.0)
# A delivery claimed this long ago and still not recorded lost its worker: it goes to review.
AMENDS_SEND_STALE_SECONDS = env.int("AMENDS_SEND_STALE_SECONDS", default=300)
ANYMAIL = {
    key: value
    for key, value in {
        "POSTMARK_SERVER_TOKEN": env("POSTMARK_SERVER_TOKEN", default=""),
        "MAILGUN_API_KEY": env("MAILGUN_API_KEY", default=""),
        "MAILGUN_SENDER_DOMAIN": env("MAILGUN_SENDER_DOMAIN", default=""),
        "SENDGRID_API_KEY": env("SENDGRID_API_KEY", default=""),
        "AMAZON_SES_CLIENT_PARAMS": {"region_name": env("AWS_REGION", default="")}
        if env("AWS_REGION", default="")
        else "",
        "MAILGUN_API_URL": env("MAILGUN_API_URL", default=""),
        # Webhook signatures, each ESP's own (Mailgun's signing key is not its API key).
        **{
            name: env(name, default="")
            for name in (
                "MAILGUN_WEBHOOK_SIGNING_KEY",
                "MAILERSEND_SIGNING_SECRET",
                "MAILERSEND_INBOUND_SECRET",
                "MANDRILL_WEBHOOK_KEY",
                "MANDRILL_WEBHOOK_URL",
                "POSTAL_WEBHOOK_KEY",
                "RESEND_SIGNING_SECRET",
                "RESEND_INBOUND_SECRET",
            )
        },
        "REQUESTS_TIMEOUT": env.int("ANYMAIL_REQUESTS_TIMEOUT", default=30),
    }.items()
    if value
}
# anymail would accept unauthenticated webhooks with only a warning: without a configured secret,
# use one nobody knows, so that forged tracking events and replies are refused.
ANYMAIL["WEBHOOK_SECRET"] = env("ANYMAIL_WEBHOOK_SECRET", default="") or (
    "amends:" + hashlib.sha256(f"{AMENDS_LINK_KEY}:webhooks".encode()).hexdigest()[:32]
)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# LOG_FORMAT=json gives one JSON object per line (python-json-logger), with the ids of every send line.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every step of every document at INFO, from its import on: thousands of lines a batch.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}},
}
