"""Settings, read from the environment (and from `.env` when present) with django-environ.

Every value a deployment changes is an environment variable; `.env.example` documents each one.
Defaults are safe for production: DEBUG is off unless asked for, and with DEBUG off the app refuses
to start without a SECRET_KEY rather than run with a guessable one.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from payments.money import amounts_by_currency

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Real environment variables win over `.env`; ENV_FILE points elsewhere (or at /dev/null).
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if ENV_FILE.is_file():
    env.read_env(str(ENV_FILE), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the app will not start without one: set "
            "SECRET_KEY in the environment (or .env), e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, "
            "or set DEBUG=true for local development."
        )
    # Only reachable with DEBUG on: a fixed key is fine for a laptop, never for a server.
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "csp",
    "axes",
    "shop",
    "payments",
    "audit",
    "backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Cache-Control: no-store on the back-office, the admin and the API (personal data).
    "config.middleware.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: times are shown in the user's zone (blank: TIME_ZONE) for the request.
    "shop.timezones.UserTimeZoneMiddleware",
    # After authentication: entries written while a request is served record its user and address.
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

# Stripe's webhook (payments.webhooks) is served with these alone (config.wsgi): HTTPS and the
# security headers, no-store (/api/), the host check (CommonMiddleware), who wrote an audit
# entry (the delivery's address, when the demo applies an event in the request) and framing.
# Nothing there reads a session or a user, renders a page or takes a login.
WEBHOOK_PATH = "/api/payments/webhook/stripe/"
WEBHOOK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.NoStoreMiddleware",
    "django.middleware.common.CommonMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# django-axes first: it refuses a locked-out user (and IP) before a password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, with the permissions in one query (every back-office page checks them).
    "shop.permissions.OneQueryModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

FORM_RENDERER = "config.form_renderer.FormRenderer"
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
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------------
# SQLite file by default (the demo); PostgreSQL in production and CI through DATABASE_URL.
DATABASES = {
    # An empty DATABASE_URL means "not set", like every other variable here.
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock up front, so two writers queue instead of
    # failing with "database is locked" halfway through; WAL lets readers run beside a writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The dashboard's covering index is PostgreSQL's; SQLite builds it as a plain index.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # Tests use a file, not Django's default in-memory database: the browser and webhook tests'
    # live server answers requests in several threads at once, and an in-memory database would
    # make them share one connection. One file per test run (pid), so two runs never collide;
    # the test runner deletes it at the end.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Cache: Redis when REDIS_URL is set (production: throttles and the dashboard's figures hold
# across workers and servers); this process's memory otherwise (the demo, one process).
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="payments"),
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Work off the request path: Celery, with Redis as the broker -------------------------------
# Without CELERY_BROKER_URL (the demo) there is no worker: webhooks are applied inside their
# request, as before, and periodic jobs are run by hand (the management commands).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when done, and given back if its worker dies: killed mid-event, the
# event is applied by another worker (applying is idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The webhook answers quickly even when Redis is down: a publish that fails is left to the
# stale-event sweep (the event row is committed first).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "visibility_timeout": 3600,
}
# Scheduled jobs (celery beat); each is safe when two beat or worker hosts run it at once.
PAYMENTS_RECONCILE_EVERY_SECONDS = env.float("PAYMENTS_RECONCILE_EVERY_SECONDS", default=900)
PAYMENTS_RECONCILE_DAYS = env.float("PAYMENTS_RECONCILE_DAYS", default=3)
PAYMENTS_SWEEP_EVERY_SECONDS = env.float("PAYMENTS_SWEEP_EVERY_SECONDS", default=60)
# An event due this long ago and still not applied (a lost wake-up, a worker killed while it held
# the event) is taken up again by the sweep; also how long a worker's claim on an event lasts.
PAYMENTS_EVENT_REQUEUE_AFTER_SECONDS = env.float("PAYMENTS_EVENT_REQUEUE_AFTER_SECONDS", default=60)
# The dashboard reads its summary plus the deltas written since the last compaction.
PAYMENTS_DASHBOARD_COMPACT_EVERY_SECONDS = env.float(
    "PAYMENTS_DASHBOARD_COMPACT_EVERY_SECONDS", default=60
)
CELERY_BEAT_SCHEDULE = {
    "reconcile-recent-payments": {
        "task": "payments.tasks.payments_reconcile_recent",
        "schedule": PAYMENTS_RECONCILE_EVERY_SECONDS,
    },
    "settle-unanswered-refunds": {
        "task": "payments.tasks.refunds_settle",
        "schedule": PAYMENTS_SWEEP_EVERY_SECONDS,
    },
    "sweep-stale-webhook-events": {
        "task": "payments.tasks.webhook_events_sweep",
        "schedule": PAYMENTS_SWEEP_EVERY_SECONDS,
    },
    "expire-csv-exports": {
        "task": "backoffice.tasks.csv_exports_expire",
        "schedule": 3600,
    },
    "compact-dashboard-summary": {
        "task": "payments.tasks.dashboard_summary_compact",
        "schedule": PAYMENTS_DASHBOARD_COMPACT_EVERY_SECONDS,
    },
}
# CSV exports: one the planner expects to have more rows than this is prepared in the background
# (a file the user downloads when ready) instead of streamed in the request; the files live in
# BACKOFFICE_EXPORT_DIR (private: never under STATIC_ROOT or MEDIA_ROOT) for this many hours.
BACKOFFICE_EXPORT_STREAM_MAX_ROWS = env.int("BACKOFFICE_EXPORT_STREAM_MAX_ROWS", default=200_000)
BACKOFFICE_EXPORT_DIR = Path(
    env.str("BACKOFFICE_EXPORT_DIR", default=str(BASE_DIR / "var" / "exports"))
)
BACKOFFICE_EXPORT_KEEP_HOURS = env.float("BACKOFFICE_EXPORT_KEEP_HOURS", default=24)
# A customer's status check answers from the database unless the payment is not final and was
# last synced from Stripe longer ago than this; then one Stripe call serves concurrent checks.
PAYMENTS_STATUS_FRESH_SECONDS = env.float("PAYMENTS_STATUS_FRESH_SECONDS", default=5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "shop.CustomUser"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Clients behind proxies, brute-force protection --------------------------------------------
# How many proxies in front of the app append to X-Forwarded-For (a load balancer: 1). With 0 the
# client is REMOTE_ADDR and X-Forwarded-For is ignored, since anyone can send one.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# Every login form (/accounts/login/, /admin/login/) and the API's token endpoint: after
# AXES_FAILURE_LIMIT wrong passwords for one username from one address, both are locked out for
# AXES_COOLOFF_MINUTES (attempts are kept in the database, so every server agrees).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "config.client_ip.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/backoffice/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise serves them, compressed and cache-busted, in production) -----------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security ------------------------------------------------------------------------------------
# On by default whenever DEBUG is off; each can be turned off alone (e.g. behind a TLS proxy that
# already redirects, set SECURE_SSL_REDIRECT=false and SECURE_PROXY_SSL_HEADER).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, each request's read by SQL compiled once (config.sessions).
SESSION_ENGINE = "config.sessions"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content Security Policy: no inline scripts, no third-party origins. htmx is served from our own
# static files by django-htmx; its inline-style indicator is disabled in templates.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

# --- Payments / Stripe ---------------------------------------------------------------------------
STRIPE_PUBLIC_KEY = env.str("STRIPE_PUBLIC_KEY", default="")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
# Comma-separated: during a signing-secret rotation both the old and the new secret verify.
STRIPE_WEBHOOK_SECRETS = [
    secret.strip() for secret in env.list("STRIPE_WEBHOOK_SECRET", default=[]) if secret.strip()
]
# Empty means Stripe itself; the offline stand-in (stripe_sandbox) is reached by setting this.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Where a checkout page loads Stripe.js from: Stripe's own in production, the stand-in's offline.
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
# With the retries, a request may wait on Stripe for up to stripe_client.worst_case_seconds():
# gunicorn.conf.py gives a worker longer than that, so a slow Stripe is a 503, not a killed worker.
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Prefixed to every idempotency key sent to Stripe: give each database (developer, staging)
# sharing one Stripe account its own, or "order-1-pi-1" from two databases would collide.
STRIPE_IDEMPOTENCY_PREFIX = env.str("STRIPE_IDEMPOTENCY_PREFIX", default="")
# Whose bank details a customer paying EUR by bank transfer is shown (Stripe: DE, FR, IE or NL).
PAYMENTS_BANK_TRANSFER_COUNTRY = env.str("PAYMENTS_BANK_TRANSFER_COUNTRY", default="NL")
PAYMENTS_DEFAULT_CURRENCY = env.str("PAYMENTS_DEFAULT_CURRENCY", default="EUR").upper()
# Four eyes: a refund at or above its currency's amount here ("EUR:500,USD:500,JPY:75000") waits,
# its amount held, until a second person approves it. A currency not listed (or unset) needs none.
try:
    PAYMENTS_REFUND_APPROVAL_THRESHOLD = amounts_by_currency(
        env.str("PAYMENTS_REFUND_APPROVAL_THRESHOLD", default="")
    )
except ValueError as exc:
    raise ImproperlyConfigured(
        f"PAYMENTS_REFUND_APPROVAL_THRESHOLD is malformed: {exc} Give CURRENCY:AMOUNT pairs, "
        "comma-separated, e.g. EUR:500,USD:500,JPY:75000 (or leave it empty for no approvals)."
    ) from None

# --- REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["payments.api.parsers.DecimalJSONParser"],
    # `page` and `per_page` (at most 100), bounded: anything else is a 400, not a database error.
    "DEFAULT_PAGINATION_CLASS": "payments.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "payments.api.errors.exception_handler",
    # Password guessing on the token endpoint, and status polls (each asks Stripe), are limited
    # per client; over the limit is a 429 with Retry-After.
    "DEFAULT_THROTTLE_RATES": {
        "auth-token": env.str("THROTTLE_AUTH_TOKEN", default="10/minute"),
        "payment-status": env.str("THROTTLE_PAYMENT_STATUS", default="60/minute"),
    },
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # The throttles' client: REMOTE_ADDR, or the address the outermost of NUM_PROXIES saw (never
    # a client-supplied X-Forwarded-For); counted in the shared cache.
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Payments API",
    "DESCRIPTION": "Checkout JSON API: PaymentIntents for orders, payment status and refunds.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "RefundStatusEnum": "payments.models.Refund.Status",
        "RefundReasonEnum": "payments.models.Refund.Reason",
        "PaymentMethodEnum": "payments.models.Payment.Method",
    },
}

# --- Logging: to stderr, where gunicorn and systemd pick it up. ----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors": {"()": "config.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The stripe SDK logs every request at INFO; its warnings and errors are what matter.
    "loggers": {
        # Django's own "django" logger would print each record a second time with DEBUG on (its
        # default console handler): here it only passes them to the root's handler.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # A refused request (403, 404, a bad Host) is one line; a 5xx keeps its traceback.
        "django.request": {"filters": ["client_errors"]},
        "django.security": {"filters": ["client_errors"]},
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": env.str("STRIPE_LOG_LEVEL", default="WARNING")},
    },
}
