"""Handoff settings: one module, everything that varies read from the environment.

With nothing set, Handoff runs on SQLite under var/ and a Celery broker that
needs no server (kombu's filesystem transport). `.env.example` lists every variable.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_required, env_str
from .secret_key import installation_secret_key
from .security import frame_ancestors_check

# --- core ---------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HANDOFF_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("HANDOFF_TESTING", False)

if DEBUG:
    # No SECRET_KEY (make run): a random key of this installation, made on first run (var/).
    SECRET_KEY = env_str("SECRET_KEY") or installation_secret_key(VAR_DIR / "secret_key")
else:
    SECRET_KEY = env_required("SECRET_KEY", "production needs a long random secret key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1)
SITE_URL = (env_str("SITE_URL") or f"http://127.0.0.1:{PORT}").rstrip("/")

# --- applications -------------------------------------------------------------
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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "template_partials",
    "leads",
    "funnel",
    "campaigns",
    "campaigns.imports",
    "campaigns.nurture",
    "campaigns.predictive",
    "reporting",
    "outbox",
    # Login throttling (django-axes; its settings under "auth").
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Answers to a signed-in user: Cache-Control: private, no-store (personal data).
    "config.caching.PrivateCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    # Last but one, so it is the first to see a view's exception.
    "config.errors.DatabaseUnavailableMiddleware",
    # AxesMiddleware last, as axes documents: it turns a lockout into the 429 response.
    "axes.middleware.AxesMiddleware",
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
                "leads.context_processors.roles",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- database -----------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'handoff.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The dev server, the worker and beat share one file: wait for the lock, don't fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Login throttling with django-axes: after HANDOFF_LOGIN_FAILURE_LIMIT failed logins for one
# username from one IP address, that pair is locked out for HANDOFF_LOGIN_COOLOFF_MINUTES;
# the login page and POST /api/auth/token/ answer 429 meanwhile.
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("HANDOFF_LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = env_int("HANDOFF_LOGIN_FAILURE_LIMIT", 5, minimum=1)
# In hours, as axes takes a number.
AXES_COOLOFF_TIME = env_int("HANDOFF_LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
# Lockouts are logged as warnings; the start-up banner would only add noise to every command.
AXES_VERBOSE = False
if TESTING:
    # Hashing passwords at full strength would dominate the suite's run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- i18n ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- static -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# Files served at the site's root (/favicon.ico), by WhiteNoise like the static files.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# --- security -----------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
HANDOFF_CSP = env_str("HANDOFF_CSP") or (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
# Sites that may frame the public landing pages (/f/<slug>/), space- or comma-separated
# origins; empty (the default): no page may be framed.
HANDOFF_FRAME_ANCESTORS = frame_ancestors_check(
    env_str("HANDOFF_FRAME_ANCESTORS", "").replace(",", " ").split()
)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- e-mail -------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Handoff <handoff@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
BROKER_DIR = VAR_DIR / "broker"
# The longest task: a lead import (imports.run) is stopped after this many seconds.
HANDOFF_IMPORT_TIME_LIMIT_SECONDS = env_int(
    "HANDOFF_IMPORT_TIME_LIMIT_SECONDS", 6 * 3600, minimum=600
)
# Redis hands a message that no worker acknowledged within the visibility timeout to another
# worker (tasks acknowledge late, when they end). So it exceeds every task's time limit, the
# import's included, or a running import would be delivered a second time; a message whose
# worker died is sent again sooner by the outbox (HANDOFF_OUTBOX_LEASE_SECONDS).
HANDOFF_BROKER_VISIBILITY_TIMEOUT = HANDOFF_IMPORT_TIME_LIMIT_SECONDS + 3600
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": HANDOFF_BROKER_VISIBILITY_TIMEOUT,
        # A publish to a Redis that is down fails in well under a second instead of hanging
        # the request for the connect timeout: what was queued on commit waits in the
        # outbox (outbox.services) instead. Workers reconnect with their own retries.
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
else:
    # No server needed: messages are files in var/broker, shared by web, worker and beat.
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- caches -------------------------------------------------------------------
# Landing pages' rate limit counts in the capture cache: Redis when there is one, so every
# web process shares it.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "capture": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "handoff-capture",
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "capture"}
    ),
}

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request then gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # JSON nested too deeply for Python's decoder is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Handoff API",
    "DESCRIPTION": "Leads, their lifecycle transitions, campaigns and the funnel.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc served from this site (no CDN), so the docs work offline and
    # under the Content Security Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "leads.stages.Stage",
        "EntryStageEnum": "funnel.lifecycle.ENTRY_STAGES",
        "ChannelEnum": "campaigns.models.Channel",
        "NurtureExitEnum": "campaigns.nurture.models.Exit",
    },
    # The schema and the API docs are for signed-in users, like the rest of /api/.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# --- logging ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Handoff: the lifecycle and scoring ---------------------------------------
HANDOFF_CURRENCY = env_str("HANDOFF_CURRENCY", "EUR")
HANDOFF_MAX_OPPORTUNITY_AMOUNT = env_int("HANDOFF_MAX_OPPORTUNITY_AMOUNT", 1_000_000_000, minimum=1)
# Scoring: a suspect or nurtured lead whose score reaches the threshold becomes an MQL.
HANDOFF_MQL_THRESHOLD = env_int("HANDOFF_MQL_THRESHOLD", 50, minimum=1)
HANDOFF_ENGAGEMENT_POINTS = {
    "form_submitted": env_int("HANDOFF_POINTS_FORM", 50),
    "email_opened": env_int("HANDOFF_POINTS_OPEN", 5),
    "link_clicked": env_int("HANDOFF_POINTS_CLICK", 20),
    "page_visited": env_int("HANDOFF_POINTS_VISIT", 10),
}
# Engagement points halve every this many days (0: no decay).
HANDOFF_SCORE_HALF_LIFE_DAYS = env_int("HANDOFF_SCORE_HALF_LIFE_DAYS", 30, minimum=0)

# --- Handoff: the sales workspace (queue, assignment, SLA) --------------------
# How often beat looks for MQLs waiting past the SLA (the SLA hours are a setting managers edit).
HANDOFF_SLA_CHECK_SECONDS = env_int("HANDOFF_SLA_CHECK_SECONDS", 300, minimum=10)
# Most rows the MQL queue shows on one page, and the most leads one bulk decision takes.
HANDOFF_QUEUE_PAGE_SIZE = env_int("HANDOFF_QUEUE_PAGE_SIZE", 50, minimum=1)
HANDOFF_BULK_MAX = env_int("HANDOFF_BULK_MAX", 200, minimum=1)
# Beat's assignment reconciler: unassigned MQLs whose on-commit round robin was lost (the
# process died after the move's commit, or the assignment raised), looked for every
# RECONCILE_SECONDS among arrivals older than GRACE_SECONDS and younger than WINDOW_DAYS,
# at most RECONCILE_MAX per run.
HANDOFF_ASSIGNMENT_RECONCILE_SECONDS = env_int(
    "HANDOFF_ASSIGNMENT_RECONCILE_SECONDS", 300, minimum=1
)
HANDOFF_ASSIGNMENT_RECONCILE_GRACE_SECONDS = env_int(
    "HANDOFF_ASSIGNMENT_RECONCILE_GRACE_SECONDS", 120, minimum=0
)
HANDOFF_ASSIGNMENT_RECONCILE_WINDOW_DAYS = env_int(
    "HANDOFF_ASSIGNMENT_RECONCILE_WINDOW_DAYS", 7, minimum=1
)
HANDOFF_ASSIGNMENT_RECONCILE_MAX = env_int("HANDOFF_ASSIGNMENT_RECONCILE_MAX", 1000, minimum=1)
# A rep's morning digest (overdue tasks, tasks due today, MQLs waiting): sent at this hour and
# minute of Celery's clock (UTC), once per rep per day.
HANDOFF_DIGEST_HOUR = env_int("HANDOFF_DIGEST_HOUR", 7, minimum=0)
HANDOFF_DIGEST_MINUTE = env_int("HANDOFF_DIGEST_MINUTE", 0, minimum=0)
if HANDOFF_DIGEST_HOUR > 23 or HANDOFF_DIGEST_MINUTE > 59:
    raise ImproperlyConfigured("HANDOFF_DIGEST_HOUR is 0-23 and HANDOFF_DIGEST_MINUTE 0-59.")

# Predictive scoring: a model needs this many leads that reached the outcome and as many
# that ended in nurture or junk; with fewer, the rules work alone.
HANDOFF_PREDICTIVE_MIN_OUTCOMES = env_int("HANDOFF_PREDICTIVE_MIN_OUTCOMES", 200, minimum=1)

# --- Handoff: landing pages (campaigns.capture) -------------------------------
# Landing pages: form posts per client address per window, and the largest body accepted.
HANDOFF_CAPTURE_RATE_LIMIT = env_int("HANDOFF_CAPTURE_RATE_LIMIT", 10, minimum=1)
HANDOFF_CAPTURE_RATE_WINDOW = env_int("HANDOFF_CAPTURE_RATE_WINDOW", 3600, minimum=1)
HANDOFF_CAPTURE_MAX_BYTES = env_int("HANDOFF_CAPTURE_MAX_BYTES", 32_768, minimum=1024)
# Behind a proxy, the header that carries the client address (e.g. HTTP_X_FORWARDED_FOR).
HANDOFF_CAPTURE_IP_HEADER = env_str("HANDOFF_CAPTURE_IP_HEADER", "")

# --- Handoff: lead imports (campaigns.imports) --------------------------------
# HubSpot-sized files: over either limit an upload is refused (413) before any row is written.
HANDOFF_IMPORT_MAX_BYTES = env_int("HANDOFF_IMPORT_MAX_BYTES", 512 * 1024 * 1024, minimum=1)
HANDOFF_IMPORT_MAX_ROWS = env_int("HANDOFF_IMPORT_MAX_ROWS", 1_048_576, minimum=1)
HANDOFF_IMPORT_MAX_CELL = env_int("HANDOFF_IMPORT_MAX_CELL", 65_536, minimum=1)
HANDOFF_IMPORT_DIR = env_str("HANDOFF_IMPORT_DIR", str(VAR_DIR / "imports"))
# Rows per committed batch: a killed worker loses at most one batch, then resumes.
HANDOFF_IMPORT_BATCH_ROWS = env_int("HANDOFF_IMPORT_BATCH_ROWS", 50_000, minimum=1)
# PostgreSQL: batches of one import merged side by side, each on its own connection.
HANDOFF_IMPORT_MERGE_WORKERS = env_int("HANDOFF_IMPORT_MERGE_WORKERS", 2, minimum=1)
# A running import not heard of for this long is taken as dead and queued again.
HANDOFF_IMPORT_STALL_SECONDS = env_int("HANDOFF_IMPORT_STALL_SECONDS", 300, minimum=10)

# --- Handoff: nurturing (campaigns.nurture) -----------------------------------
# Beat ticks this often; each tick hands due enrollments to workers in batches.
HANDOFF_NURTURE_TICK_SECONDS = env_int("HANDOFF_NURTURE_TICK_SECONDS", 60, minimum=1)
HANDOFF_NURTURE_BATCH_SIZE = env_int("HANDOFF_NURTURE_BATCH_SIZE", 200, minimum=1)
HANDOFF_NURTURE_MAX_PER_TICK = env_int("HANDOFF_NURTURE_MAX_PER_TICK", 100_000, minimum=1)
# A batch handed out and not done within the lease (its worker died) is handed out again.
HANDOFF_NURTURE_LEASE_SECONDS = env_int("HANDOFF_NURTURE_LEASE_SECONDS", 600, minimum=1)
HANDOFF_NURTURE_SOFT_TIME_LIMIT = env_int("HANDOFF_NURTURE_SOFT_TIME_LIMIT", 300, minimum=1)
HANDOFF_NURTURE_MAX_RETRIES = env_int("HANDOFF_NURTURE_MAX_RETRIES", 8, minimum=0)
HANDOFF_NURTURE_RETRY_BASE_SECONDS = env_int("HANDOFF_NURTURE_RETRY_BASE_SECONDS", 10, minimum=0)
HANDOFF_NURTURE_RETRY_MAX_SECONDS = env_int("HANDOFF_NURTURE_RETRY_MAX_SECONDS", 900, minimum=1)
# Consecutive failed attempts after which an enrollment stops (status "failed").
HANDOFF_NURTURE_MAX_FAILURES = env_int("HANDOFF_NURTURE_MAX_FAILURES", 20, minimum=1)
# Beat's reconciler: leads that entered nurture and were never enrolled (the process that
# moved them died before its on-commit reaction, or the reaction failed), looked for every
# RECONCILE_SECONDS among moves older than GRACE_SECONDS (a reaction still in flight is not
# raced) and younger than WINDOW_DAYS, at most RECONCILE_MAX per run.
HANDOFF_NURTURE_RECONCILE_SECONDS = env_int("HANDOFF_NURTURE_RECONCILE_SECONDS", 300, minimum=1)
HANDOFF_NURTURE_RECONCILE_GRACE_SECONDS = env_int(
    "HANDOFF_NURTURE_RECONCILE_GRACE_SECONDS", 120, minimum=0
)
HANDOFF_NURTURE_RECONCILE_WINDOW_DAYS = env_int(
    "HANDOFF_NURTURE_RECONCILE_WINDOW_DAYS", 7, minimum=1
)
HANDOFF_NURTURE_RECONCILE_MAX = env_int("HANDOFF_NURTURE_RECONCILE_MAX", 1000, minimum=1)

# --- Handoff: the outbox (outbox) ---------------------------------------------
# Task messages queued on commit are rows too (outbox.PendingTask). Beat sweeps every
# HANDOFF_OUTBOX_SWEEP_SECONDS: a row never sent (the broker was down at the commit) goes out
# after HANDOFF_OUTBOX_GRACE_SECONDS; one sent but not done within
# HANDOFF_OUTBOX_LEASE_SECONDS (Redis lost it, its worker was killed) is sent again, at most
# HANDOFF_OUTBOX_MAX_ATTEMPTS times. A task whose time limit is longer (an import) has that
# limit and a minute as its lease: it is not sent again while it may still be running.
HANDOFF_OUTBOX_SWEEP_SECONDS = env_int("HANDOFF_OUTBOX_SWEEP_SECONDS", 30, minimum=1)
HANDOFF_OUTBOX_GRACE_SECONDS = env_int("HANDOFF_OUTBOX_GRACE_SECONDS", 30, minimum=0)
HANDOFF_OUTBOX_LEASE_SECONDS = env_int("HANDOFF_OUTBOX_LEASE_SECONDS", 3600, minimum=1)
HANDOFF_OUTBOX_MAX_ATTEMPTS = env_int("HANDOFF_OUTBOX_MAX_ATTEMPTS", 10, minimum=1)
