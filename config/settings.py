"""modelhub settings, read from the environment with embedded defaults.

With nothing set, the platform runs on one machine with no server installed:
SQLite, kombu's filesystem broker, a cache in files and local model
instances. Setting DATABASE_URL, REDIS_URL and INSTANCE_BACKEND moves the same
code onto PostgreSQL, Redis and a cluster. Every variable is listed, with its
default, in `.env.example` and in the README.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from config.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_optional_str,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# A `.env` file in the repository (or the file MODELHUB_ENV_FILE names; empty
# for none) is read first, without overriding variables already set, so web,
# worker, beat, the agent and the command line all see one configuration.
_env_file = os.environ.get("MODELHUB_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    load_dotenv(_env_file, override=False)

# Where the embedded stack keeps its files: the SQLite database, the broker's
# message folders and the logs of local model instances.
DATA_DIR = Path(env_str("MODELHUB_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DJANGO_DEBUG", True)

_secret_key = env_optional_str("DJANGO_SECRET_KEY")
if _secret_key is None and not DEBUG:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off."
    )
SECRET_KEY = _secret_key or "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # The admin site of the admin role (accounts/sites.py), not Django's staff.
    "accounts.apps.ModelhubAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "allauth",
    "allauth.account",
    "config.apps.PlatformConfig",
    "accounts",
    "models_registry",
    "instances",
    "workrequests",
    "recommendations",
    "scaling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionActivityMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'modelhub.sqlite3'}")
DATABASE_SCHEMA = env_optional_str("DATABASE_SCHEMA")

_database = dj_database_url.parse(
    DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)
)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker, beat, the agent and the command line all write to one file.
    # WAL lets readers run beside the writer, IMMEDIATE transactions take the
    # write lock up front (so two writers queue instead of failing on lock
    # upgrade) and the busy timeout makes the queueing wait instead of raising
    # "database is locked".
    _database["CONN_MAX_AGE"] = 0
    Path(_database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _database["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASE_SCHEMA:
    if _database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_SCHEMA only applies to PostgreSQL.")
    _database.setdefault("OPTIONS", {})["options"] = f"-c search_path={DATABASE_SCHEMA}"
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker and tasks ----------------------------------------------

REDIS_URL = env_optional_str("REDIS_URL")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "modelhub",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # A cache in files, not in each process's memory: the web server runs
    # several processes, and sessions that were ended, abuse counters and
    # the like must look the same from all of them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }
    BROKER_DIR = DATA_DIR / "broker"
    for _folder in ("messages", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    # The host part means nothing to this transport; naming one keeps kombu
    # from warning that it is missing.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": env_float("BROKER_POLLING_INTERVAL", 0.1, minimum=0.01),
    }

CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = env_str("TIME_ZONE", "UTC")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Authentication -------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATORS}.MinimumLengthValidator"},
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATORS}.NumericPasswordValidator"},
]

# --- Accounts, sessions and abuse limits ----------------------------------

# Sign in with username or email (django-allauth). Signup asks for a
# username, an email address and a password typed twice; the rules are in
# accounts/services.py, shared by the page and the API. Email verification
# is "optional" (a link is sent, signing in works at once) or "mandatory"
# (no sign-in, page or token, before the link is followed).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    # Grants every admin permission to the admin role; authenticates no one.
    "accounts.backends.AdminRoleBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", "optional", ("optional", "mandatory")
)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_USERNAME_MIN_LENGTH = env_int("ACCOUNT_USERNAME_MIN_LENGTH", 3, minimum=1)
ACCOUNT_USERNAME_MAX_LENGTH = env_int("ACCOUNT_USERNAME_MAX_LENGTH", 30, minimum=1)
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[modelhub] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env_choice(
    "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http" if DEBUG else "https", ("http", "https")
)

# Mail goes to the console until an SMTP server is named.
EMAIL_HOST = env_optional_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "modelhub <modelhub@localhost>")

# Sessions live in the cache with the database behind it, so a page view
# reads no session row while the cache is warm. A signed-in session ends
# after SESSION_IDLE_SECONDS without a request, and SESSION_ABSOLUTE_SECONDS
# after signing in whatever happens; activity pushes the idle deadline back
# at most once every SESSION_REFRESH_SECONDS, so an active user costs one
# session write a minute, not one a request. A browser without an account
# keeps its anonymous identity for ANONYMOUS_SESSION_SECONDS after its last
# visit.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 8 * 3600, minimum=1)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 14 * 86400, minimum=1)
SESSION_REFRESH_SECONDS = env_int("SESSION_REFRESH_SECONDS", 60, minimum=1)
ANONYMOUS_SESSION_SECONDS = env_int("ANONYMOUS_SESSION_SECONDS", 7 * 86400, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# API tokens (`Authorization: Token <key>`) expire this long after they are
# made; anonymous ones live as long as anonymous requests are kept.
API_TOKEN_TTL_SECONDS = env_int("API_TOKEN_TTL_SECONDS", 30 * 86400, minimum=60)
ANONYMOUS_TOKEN_TTL_SECONDS = env_int(
    "ANONYMOUS_TOKEN_TTL_SECONDS", 7 * 86400, minimum=60
)

# Abuse limits, as "<count>/<period>" with periods like s, m, h, d or 5m.
# Pages (allauth) and the API share them. Login and password reset count
# per client address and per account; signup and new anonymous identities
# per address; submissions per user or anonymous identity (per address for
# a first submission, which makes an identity). TRUSTED_PROXY_COUNT says
# how many reverse proxies put their address in X-Forwarded-For; with 0 the
# header is ignored, so a client cannot pick its own address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
THROTTLE_RATES = {
    "login": env_str("THROTTLE_LOGIN", "20/m"),
    "login_account": env_str("THROTTLE_LOGIN_ACCOUNT", "5/5m"),
    "signup": env_str("THROTTLE_SIGNUP", "10/h"),
    "anonymous": env_str("THROTTLE_ANONYMOUS", "100/h"),
    "password_reset": env_str("THROTTLE_PASSWORD_RESET", "10/h"),
    "password_reset_account": env_str("THROTTLE_PASSWORD_RESET_ACCOUNT", "3/h"),
    "submission": env_str("THROTTLE_SUBMISSION", "30/m"),
}
ACCOUNT_RATE_LIMITS = {
    "login": f"{THROTTLE_RATES['login']}/ip",
    "login_failed": (
        f"{THROTTLE_RATES['login']}/ip,{THROTTLE_RATES['login_account']}/key"
    ),
    "signup": f"{THROTTLE_RATES['signup']}/ip",
    "reset_password": (
        f"{THROTTLE_RATES['password_reset']}/ip,"
        f"{THROTTLE_RATES['password_reset_account']}/key"
    ),
    "reset_password_from_key": f"{THROTTLE_RATES['password_reset']}/ip",
}

# --- API ------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes missing or bad
    # credentials a 401 (DRF answers 403 when the first class has none).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Throttles read THROTTLE_RATES themselves (accounts/throttling.py).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "modelhub API",
    "DESCRIPTION": "Submit work requests to machine-learning models and fetch results.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that several fields share get one name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "RecommendationEngineStateEnum": "recommendations.models.EngineStateName",
        "RecommendationProfileEnum": "recommendations.models.ProfileName",
        "RecommendationRunStateEnum": "recommendations.models.RunState",
        "RecommendationStatusEnum": "recommendations.api.ENTRY_STATUSES",
    },
}

# --- Internationalisation and static files --------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Logging --------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"fields": {"()": "config.logging.FieldsFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "fields"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # One line per model call would drown everything else.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- Recommendations ------------------------------------------------------

# A model is profiled from its newest finished instances, at most the limit;
# with fewer than the minimum it gets "not enough data". The largest CPU and
# memory allocations (Kubernetes quantities such as "8" or "32Gi", unset for
# no cap) hold recommendations under what a node can give. A run whose
# worker stopped sending heartbeats for the timeout (seconds) no longer
# blocks the next one.
RECOMMENDATIONS_MIN_INSTANCES = env_int("RECOMMENDATIONS_MIN_INSTANCES", 3, minimum=1)
RECOMMENDATIONS_INSTANCE_LIMIT = env_int(
    "RECOMMENDATIONS_INSTANCE_LIMIT", 100, minimum=1
)
RECOMMENDATIONS_MAX_CPU = env_optional_str("RECOMMENDATIONS_MAX_CPU")
RECOMMENDATIONS_MAX_MEMORY = env_optional_str("RECOMMENDATIONS_MAX_MEMORY")
RECOMMENDATIONS_RUN_TIMEOUT = env_int("RECOMMENDATIONS_RUN_TIMEOUT", 900, minimum=10)

# --- Models, instances and work requests ----------------------------------

INSTANCE_BACKEND = env_choice("INSTANCE_BACKEND", "local", ("local",))

# Defaults given to a new model; each model can override them in the admin.
MODEL_DEFAULT_INPUT_LIMIT = env_int("MODEL_DEFAULT_INPUT_LIMIT", 1000, minimum=1)
MODEL_DEFAULT_MIN_INSTANCES = env_int("MODEL_DEFAULT_MIN_INSTANCES", 0)
MODEL_DEFAULT_MAX_INSTANCES = env_int("MODEL_DEFAULT_MAX_INSTANCES", 2, minimum=1)
MODEL_DEFAULT_IDLE_TIMEOUT = env_int("MODEL_DEFAULT_IDLE_TIMEOUT", 300, minimum=1)
MODEL_DEFAULT_SCHEDULE_TIMEOUT = env_int(
    "MODEL_DEFAULT_SCHEDULE_TIMEOUT", 120, minimum=1
)
MODEL_DEFAULT_READY_TIMEOUT = env_int("MODEL_DEFAULT_READY_TIMEOUT", 300, minimum=1)
MODEL_DEFAULT_JOB_TIMEOUT = env_int("MODEL_DEFAULT_JOB_TIMEOUT", 1800, minimum=1)

# How inputs are read: a first row is a header only when it names one of these
# columns; a line longer than the maximum, or holding control characters, is
# rejected with the whole submission.
INPUT_HEADER_NAMES = env_list("INPUT_HEADER_NAMES", ["smiles", "input"])
INPUT_MAX_LENGTH = env_int("INPUT_MAX_LENGTH", 2000, minimum=1)
INPUT_MAX_UPLOAD_BYTES = env_int("INPUT_MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1)
# The largest body any request may have: room for the largest file, or for
# the longest inputs URL-encoded (up to three times their size), and no more;
# a bigger body is refused before it is read.
MAX_REQUEST_BYTES = 3 * INPUT_MAX_UPLOAD_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

# How jobs run: inputs are sent in chunks; a chunk that fails on the network is
# retried, and a request whose instance is lost is queued again, a bounded
# number of times each.
WORK_REQUEST_CHUNK_SIZE = env_int("WORK_REQUEST_CHUNK_SIZE", 100, minimum=1)
WORK_REQUEST_CHUNK_RETRIES = env_int("WORK_REQUEST_CHUNK_RETRIES", 2)
WORK_REQUEST_RETRIES = env_int("WORK_REQUEST_RETRIES", 1)
WORK_REQUEST_STALL_TIMEOUT = env_int("WORK_REQUEST_STALL_TIMEOUT", 600, minimum=1)
MODEL_HTTP_TIMEOUT = env_float("MODEL_HTTP_TIMEOUT", 5.0, minimum=0.1)
MODEL_ASYNC_POLL_INTERVAL = env_float("MODEL_ASYNC_POLL_INTERVAL", 0.5, minimum=0.05)

# Requests are kept this many days from submission, then purged with their
# inputs and results (active ones never are), by an hourly task that deletes
# in batches of this size, each in its own short transaction.
WORK_REQUEST_RETENTION_DAYS = env_int("WORK_REQUEST_RETENTION_DAYS", 7, minimum=1)
WORK_REQUEST_PURGE_BATCH_SIZE = env_int(
    "WORK_REQUEST_PURGE_BATCH_SIZE", 1000, minimum=1
)
PURGE_TICK_SECONDS = env_int("PURGE_TICK_SECONDS", 3600, minimum=60)

# Periodic ticks: they find every row that needs attention, so a lost wake-up
# message only delays work.
DISPATCH_TICK_SECONDS = env_int("DISPATCH_TICK_SECONDS", 10, minimum=1)
RECONCILE_TICK_SECONDS = env_int("RECONCILE_TICK_SECONDS", 15, minimum=1)
AUTOSCALE_TICK_SECONDS = env_int("AUTOSCALE_TICK_SECONDS", 30, minimum=1)

# The local instance agent.
AGENT_POLL_INTERVAL = env_float("AGENT_POLL_INTERVAL", 0.25, minimum=0.01)
AGENT_SAMPLE_INTERVAL = env_float("AGENT_SAMPLE_INTERVAL", 1.0, minimum=0.05)
AGENT_METRICS_FLUSH_INTERVAL = env_float(
    "AGENT_METRICS_FLUSH_INTERVAL", 5.0, minimum=0.1
)
INSTANCE_LOG_DIR = DATA_DIR / "instances"

# The dispatcher's task, enqueued by name (the apps below it cannot import
# it) when a request is submitted or queued again, and by the instance
# controller when an instance becomes ready or ends, so waiting work moves on
# without waiting for a tick.
DISPATCH_TASK = "scaling.tasks.dispatch"
INSTANCES_CHANGED_TASK = DISPATCH_TASK

# A submission must not hang when the broker is down: the request is saved,
# and the next periodic tick dispatches it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
