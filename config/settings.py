"""Amends settings: one file, environment variables with safe development defaults."""

import hashlib
import socket
import sys
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

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


def served_address() -> str:
    """Where `make run` (HOST, PORT) or `manage.py runserver [addr:]port` serves: the development site URL."""
    host, port = env("HOST", default="127.0.0.1"), env("PORT", default="8000")
    if "runserver" in sys.argv:
        args = [a for a in sys.argv[sys.argv.index("runserver") + 1 :] if not a.startswith("-")]
        if args:
            addr, _, last = args[0].rpartition(":")
            host, port = (addr.strip("[]") or host, last) if addr else (host, last)
    if host in ("0.0.0.0", "::", ""):
        # Served on every interface, e.g. for a phone scanning a QR code: name this machine's LAN address.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("10.255.255.255", 1))
                host = probe.getsockname()[0]
            except OSError:
                host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


# In development the links Amends makes follow the served address; in production SITE_URL must be set
# (letters and sends are refused while it is unset, plain http or loopback: apologies.links.site_url_problem).
SITE_URL = env("SITE_URL", default="") or (served_address() if DEBUG else "")

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
    "axes",
    "health_check",
    "auditlog",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "incidents",
    "apologies",
    "apologies.privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.AmendsCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Performance (bench/landing.py): public pages (AMENDS_PUBLIC_PATH_PREFIXES, below) skip everything after
    # this line; they use no session, login, messages or CSRF token. See config/public_paths.py.
    "config.public_paths.PublicPathMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Staff with a TOTP device (or whose role must have one) see only the code page until they type a code.
    "config.twofactor.middleware.TwoFactorMiddleware",
    # Stamps every tracked model change with the acting user and address (django-auditlog).
    "incidents.auditlog.middleware.AuditlogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "apologies.staff.middleware.StaffTimeZoneMiddleware",
    "config.formonce.OnceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apologies.feedback.middleware.WebhookInputMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): scripts, styles, fonts and fetches from this site only, no inline
# script or style anywhere (staff email previews may use inline styles: config/csp.py), no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *env.list("CSP_IMG_SRC", default=[])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({"report-uri": [env("CSP_REPORT_URI")]} if env("CSP_REPORT_URI", default="") else {}),
    },
}

# The app-wide audit log: these models' changes are recorded by django-auditlog with the acting user;
# actions that are not model changes go through incidents.auditlog.services.audit_record.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "incidents.Incident", "exclude_fields": ["ledger_stats", "ledger_computed_at", "csv_mapping", "updated"]},
    {"model": "incidents.Contact", "exclude_fields": ["updated"]},
    "incidents.Suppression",
    "apologies.CountryPolicy",
    {"model": "apologies.GiftPackage", "exclude_fields": ["reserved"]},
    {"model": "apologies.Campaign", "exclude_fields": ["updated", "consecutive_errors"]},
    "apologies.CampaignTemplate",
    {"model": "apologies.LetterSettings", "exclude_fields": ["budget_reserved"]},
    "apologies.GiftAssignment",
)
AUDITLOG_DISABLE_ON_RAW_SAVE = True

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
                "config.formonce.once_token",
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
AUTHENTICATION_BACKENDS = [
    # First: refuses every login attempt, right password or not, while the address or username is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:list"
LOGOUT_REDIRECT_URL = "login"

# Reverse proxies in front of the app that append the address they saw to TRUSTED_PROXY_HEADER (nginx,
# a load balancer): 0 trusts none and reads REMOTE_ADDR. config.clientip.client_ip is the one reader.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
TRUSTED_PROXY_HEADER = env("TRUSTED_PROXY_HEADER", default="HTTP_X_FORWARDED_FOR")

# Login throttling (django-axes), on /login/ and /admin/login/ alike: after AXES_FAILURE_LIMIT wrong
# passwords from one address, or for one username, every login there is refused for the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Each entry locks on its own; "username+ip_address" locks the pair.
AXES_LOCKOUT_PARAMETERS = [
    part.split("+") if "+" in part else part
    for part in env.list("AXES_LOCKOUT_PARAMETERS", default=["ip_address", "username"])
]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.clientip.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# Two-factor sign-in (django-otp TOTP) is offered to admins and approvers; these roles must use it
# ("admin" covers superusers), e.g. TWO_FACTOR_REQUIRED_ROLES=admin,approver.
TWO_FACTOR_REQUIRED_ROLES = env.list("TWO_FACTOR_REQUIRED_ROLES", default=[])
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Amends")

# What a recipient reads around the marketer's words (public pages, emails, letters) comes from the gettext
# catalogues in locale/, one per language here; the staff pages stay English. See the README's "Languages".
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("de", "Deutsch"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The language of new campaigns, and of public pages that know no person and whose browser asks for none we have.
AMENDS_DEFAULT_LANGUAGE = env("AMENDS_DEFAULT_LANGUAGE", default="en")
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
# A file whose worker dies this many times (killed, out of memory) fails with the reason instead of running again.
IMPORT_MAX_ATTEMPTS = env.int("IMPORT_MAX_ATTEMPTS", default=3)
# One import's time limit in the worker: past it the import fails with the reason and keeps nothing.
IMPORT_TIME_LIMIT_SECONDS = env.int("IMPORT_TIME_LIMIT_SECONDS", default=2 * 3600)
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
# Letters
# How far the folded insert can slide inside each envelope, total, top to bottom (Pub 25 §3-9): the address
# keeps 1/8 in clear of the window at both ends of the slide. Ask the mail house how tightly its inserter
# holds the sheet. US #10: a tri-folded 3.667 in panel in a 4.125 in envelope can move 0.458 in, which leaves
# no room for a 3-line address; 0.2 in is a machine-inserted sheet. A4: envelope height minus the folded panel.
AMENDS_LETTERS_INSERT_SLACK_IN = {
    "us10": env.float("AMENDS_LETTERS_SLACK_US10_IN", default=0.2),
    "dl": env.float("AMENDS_LETTERS_SLACK_DL_IN", default=round(5 / 25.4, 3)),  # 110 mm - 105 mm (DIN fold)
    "c5": env.float("AMENDS_LETTERS_SLACK_C5_IN", default=round(13.5 / 25.4, 3)),  # 162 mm - 148.5 mm
    "c6": env.float("AMENDS_LETTERS_SLACK_C6_IN", default=round(9 / 25.4, 3)),  # 114 mm - 105 mm
}
# Letters print the logo and sender from the campaign's letter settings, else these (a path under static/).
AMENDS_LETTERS_LOGO = env("AMENDS_LETTERS_LOGO", default="letters/amends-logo.png")
# An ICC output profile (a file path) for PDF/X-4 print profiles; empty: no output intent is embedded.
AMENDS_LETTERS_ICC_PROFILE = env("AMENDS_LETTERS_ICC_PROFILE", default="")
# The lines under the brand name that a campaign's letter return address starts with ("\n" between lines).
# Empty in production: a name alone is refused at submission until a marketer adds the address.
AMENDS_LETTERS_RETURN_ADDRESS = env(
    "AMENDS_LETTERS_RETURN_ADDRESS", default="1 Example Street\nSpringfield, IL 62701" if DEBUG else ""
).replace("\\n", "\n")
# Images in letters must reach this many pixels per inch at their printed size.
AMENDS_LETTERS_MIN_PPI = env.int("AMENDS_LETTERS_MIN_PPI", default=300)
# True: a site URL nobody outside can reach (or plain http in production) stops letters from printing;
# False: the letters page and export_letters name the problem and letters still print (proofs, tests).
AMENDS_LETTERS_PREFLIGHT_STRICT = env.bool("AMENDS_LETTERS_PREFLIGHT_STRICT", default=False)

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

# Privacy. An erased person is kept only as HMAC-SHA256(PRIVACY_PEPPER, address): set it once to a long random
# value and never change it (nor let it follow SECRET_KEY), or erased people stop being recognised.
PRIVACY_PEPPER = env("PRIVACY_PEPPER", default="amends-privacy:" + hashlib.sha256(SECRET_KEY.encode()).hexdigest())
# Retention, run daily on the beat schedule: raw uploaded files of finished (done or failed) imports, and raw
# send events, older than these many days are deleted; ledger rows and import figures stay.
RETENTION_RAW_LOG_DAYS = env.int("RETENTION_RAW_LOG_DAYS", default=90)
RETENTION_SEND_EVENT_DAYS = env.int("RETENTION_SEND_EVENT_DAYS", default=90)

# HTTPS. Defaults are strict when DEBUG is off; behind a proxy that terminates TLS, it must set the header
# named by SECURE_PROXY_SSL_HEADER (default X-Forwarded-Proto) to "https" and strip it from clients.
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", default="" if DEBUG else "HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Container health checks call /healthz over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# Health: /healthz (django-health-check) fails when the beat-scheduled heartbeat, run by a worker, is older
# than three of these intervals. Web and workers must share CACHE_URL for it to be seen.
HEARTBEAT_SECONDS = env.int("HEARTBEAT_SECONDS", default=60)
CELERY_IMPORTS = ["config.health"]

# The watch: ESP events of all sending, counted against rules (incidents/watch/).
# Its sliding windows live in Redis (shared by web and workers); "fakeredis://" keeps them in-process,
# enough for tests and for a laptop whose worker counts alone (the page's usual volumes then stay empty).
WATCH_REDIS_URL = env("WATCH_REDIS_URL", default="fakeredis://")
# Who is told when a rule breaks: email addresses, and a JSON webhook taking {"text": ...} (Slack, Teams, ...).
WATCH_ALERT_EMAILS = env.list("WATCH_ALERT_EMAILS", default=[])
WATCH_ALERT_WEBHOOK_URL = env("WATCH_ALERT_WEBHOOK_URL", default="")
# Raw watched events are deleted after this many days (incidents keep their own copies).
WATCH_KEEP_DAYS = env.int("WATCH_KEEP_DAYS", default=14)
# A burst with no offending event for this long is over: the next one is a new alert.
WATCH_BURST_QUIET_MINUTES = env.int("WATCH_BURST_QUIET_MINUTES", default=30)
# Its beat periods are set in config/celery.py (WATCH_FLUSH_SECONDS, WATCH_LEDGER_SECONDS, WATCH_RECOVER_SECONDS).


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
    "filters": {"one_line_4xx": {"()": "config.errors.OneLine4xx"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # WeasyPrint logs every step of every document at INFO, from its import on: thousands of lines a batch.
        "weasyprint.progress": {"level": "WARNING"},
        # Django's own console handler and the root's would print each error twice: one handler, and a
        # refused or missing page is one line (no traceback); a 500 keeps its traceback.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {
            "handlers": ["console"],
            "level": "WARNING",
            "propagate": False,
            "filters": ["one_line_4xx"],
        },
    },
}

# --- What people see (issue 12): brand, postal address, proxies, error pages ---
# The public pages and emails wear the brand below unless a campaign sets its own (Campaign.brand_*).
# The postal address every email must show (US CAN-SPAM, Gmail/Yahoo bulk-sender rules). Campaigns
# whose email words or brand lack it cannot be approved. Development gets a marked example address.
AMENDS_POSTAL_ADDRESS = env(
    "AMENDS_POSTAL_ADDRESS", default="1 Example Street, Springfield, IL 62701, USA (demo)" if DEBUG else ""
)
# Refuse to render letters or start a send while SITE_URL is unset, plain http or loopback
# (apologies.links.site_url_problem). On by default where DEBUG is off, i.e. in production.
AMENDS_SITE_URL_CHECK = env.bool("AMENDS_SITE_URL_CHECK", default=not DEBUG)
# A resent confirmation email waits at least this long after the previous one (seconds).
AMENDS_CONFIRM_RESEND_SECONDS = env.int("AMENDS_CONFIRM_RESEND_SECONDS", default=60)
# One-time form tokens: how many finished create forms each session remembers (Back + resubmit shows the first).
AMENDS_ONCE_TOKENS_KEPT = env.int("AMENDS_ONCE_TOKENS_KEPT", default=50)

# Careful sending, providers and the API
# The JSON API under /api/ (tokens: manage.py api_token_create USERNAME NAME): calls per token, and per IP
# for calls without a valid token. Every call is in the API's audit trail.
MIDDLEWARE.append("apologies.api.middleware.ApiAuditMiddleware")
AMENDS_API_RATE = env("AMENDS_API_RATE", default="120/m")
AMENDS_API_ANON_RATE = env("AMENDS_API_ANON_RATE", default="20/m")
# Careful sending: day hours (never at night) and morning hours in each person's own zone, and the zone of
# people whose contact names neither a zone nor a country with a known one.
AMENDS_DAY_HOURS = (env.int("AMENDS_DAY_START_HOUR", default=8), env.int("AMENDS_DAY_END_HOUR", default=21))
AMENDS_MORNING_HOURS = (env.int("AMENDS_MORNING_START_HOUR", default=9), env.int("AMENDS_MORNING_END_HOUR", default=12))
AMENDS_DEFAULT_PERSON_ZONE = env("AMENDS_DEFAULT_PERSON_ZONE", default="UTC")
# The control group's comparison says "too few to tell" below these sizes (people per group, outcome events).
AMENDS_CONTROL_MIN_GROUP = env.int("AMENDS_CONTROL_MIN_GROUP", default=30)
AMENDS_CONTROL_MIN_EVENTS = env.int("AMENDS_CONTROL_MIN_EVENTS", default=10)
# Letters through a print-and-mail provider (apologies.letters.providers): "lob", or empty for the mail house only.
AMENDS_LETTER_PROVIDER = env("AMENDS_LETTER_PROVIDER", default="")
AMENDS_LOB_API_KEY = env("AMENDS_LOB_API_KEY", default="")
AMENDS_LOB_API_URL = env("AMENDS_LOB_API_URL", default="https://api.lob.com/v1")
# Point Lob's webhook at https://host/providers/lob/tracking/ with this secret; without it every event is refused.
AMENDS_LOB_WEBHOOK_SECRET = env("AMENDS_LOB_WEBHOOK_SECRET", default="")
AMENDS_PROVIDER_VERIFY = env.bool("AMENDS_PROVIDER_VERIFY", default=True)
AMENDS_PROVIDER_TIMEOUT = env.int("AMENDS_PROVIDER_TIMEOUT", default=60)
AMENDS_PROVIDER_WEBHOOK_TOLERANCE_SECONDS = env.int("AMENDS_PROVIDER_WEBHOOK_TOLERANCE_SECONDS", default=300)
