"""Settings, driven by environment variables (see README "Configuration" and .env.example)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from console.identity.config import check_default_role, parse_cluster_role_map, parse_role_map

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CONSOLE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: expected true or false")


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a number") from None


DEBUG = env_bool("CONSOLE_DEBUG", False)
SECRET_KEY = os.environ.get("CONSOLE_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("CONSOLE_PRODUCTION"):
        raise ImproperlyConfigured("CONSOLE_SECRET_KEY must be set in production")
    # Development and demo only: a stable per-checkout key kept outside git.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("CONSOLE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CONSOLE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "channels",
    "console",
    "topics",
    "groups",
    "console.schemas",
    "console.connect",
    "console.acls",
]

MIDDLEWARE = [
    # /healthz, /readyz, /metrics: answered before host checks and the HTTPS redirect.
    "console.health.ProbeMiddleware",
    "console.monitoring.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware, the user remembered for CONSOLE_IDENTITY_RECENT_S.
    "console.identity.recent.RecentUserMiddleware",
    # Before any view and log-in redirect: control characters, bad UTF-8, huge path parts -> 400.
    "console.middleware.BadInputMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.ConsoleErrorMiddleware",
    # Innermost: within a GET, pages share their Kafka reads (metadata, watermarks): see
    # CONSOLE_KAFKA_SHARED_READS_S; operations (POSTs) read fresh.
    "console.page_reads.SharedKafkaReadsMiddleware",
    # A POST may change what the shared pages show: its author's next pages are fresh.
    "console.shared_pages.FreshAfterPostMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
WSGI_APPLICATION = None

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
                "console.context_processors.console",
            ],
            # {% url %}, {% static %}, {% htmx_script %} with their answers remembered
            # (every page's navigation reverses ~20 URLs and names 6 assets).
            "builtins": ["console.templatetags.remembered_urls"],
        },
    }
]

DATABASE_URL_PATH = os.environ.get("CONSOLE_DATABASE_PATH", str(VAR_DIR / "console.sqlite3"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_URL_PATH,
        "OPTIONS": {
            # The web process and the Celery worker write the same file: WAL lets readers
            # run beside a writer, IMMEDIATE avoids "database is locked" upgrade deadlocks.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        # A web process keeps each of its threads' connection (console/serve.py sets 600 s).
        "CONN_MAX_AGE": int(env_float("CONSOLE_DB_CONN_MAX_AGE", 0)),
    }
}
if os.environ.get("CONSOLE_POSTGRES_DSN"):
    # Production: postgresql://user[:password]@host[:port]/db[?sslmode=verify-full&...];
    # without a password in the URL it comes from PGPASSWORD. Query parameters are libpq's.
    from urllib.parse import parse_qsl, unquote, urlparse

    _pg = urlparse(os.environ["CONSOLE_POSTGRES_DSN"])
    if _pg.scheme not in {"postgresql", "postgres"} or not _pg.path.strip("/"):
        # The value may hold a password: name the variable, not its value.
        raise ImproperlyConfigured(
            "CONSOLE_POSTGRES_DSN: expected postgresql://user@host[:port]/database"
        )
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_pg.path.lstrip("/")),
        "USER": unquote(_pg.username or ""),
        "PASSWORD": unquote(_pg.password) if _pg.password else os.environ.get("PGPASSWORD", ""),
        "HOST": _pg.hostname or "",
        "PORT": str(_pg.port or ""),
        # An unreachable server fails a page (and /readyz) within seconds, not minutes.
        "OPTIONS": {
            "connect_timeout": int(env_float("CONSOLE_DB_CONNECT_TIMEOUT", 5)),
            **dict(parse_qsl(_pg.query)),
        },
        "CONN_MAX_AGE": int(env_float("CONSOLE_DB_CONN_MAX_AGE", 0)),
        "CONN_HEALTH_CHECKS": True,
    }
    # A pool of connections (psycopg_pool, through Django's "pool" option) instead of a new
    # connection per request: under ASGI each request runs in a thread of its own, so
    # CONN_MAX_AGE cannot keep one. console/asgi.py turns it on for the server processes
    # (CONSOLE_DB_POOL_SIZE, default 4 each); Celery and manage.py connect per use.
    _pool_size = int(env_float("CONSOLE_DB_POOL_SIZE", 0))
    if _pool_size > 0:
        if DATABASES["default"]["CONN_MAX_AGE"]:
            raise ImproperlyConfigured(
                "CONSOLE_DB_POOL_SIZE and CONSOLE_DB_CONN_MAX_AGE: choose one (a pool keeps "
                "its connections itself; set CONSOLE_DB_CONN_MAX_AGE=0)"
            )
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": _pool_size,
            "timeout": DATABASES["default"]["OPTIONS"]["connect_timeout"],
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Who may log in (console/identity): local accounts (the demo, a break-glass admin) can be
# switched off once LDAP or OIDC is configured; each of those adds its backend below.
CONSOLE_LOCAL_ACCOUNTS = os.environ.get("CONSOLE_LOCAL_ACCOUNTS", "1").lower() not in {
    "0",
    "false",
    "no",
    "off",
}
AUTHENTICATION_BACKENDS = (
    ["django.contrib.auth.backends.ModelBackend"] if CONSOLE_LOCAL_ACCOUNTS else []
)
# Provider groups -> console roles, e.g. "kafka-admins=admin,kafka-operators=operator";
# the highest mapped role wins, and no mapped group means CONSOLE_DEFAULT_ROLE ("" = no
# access). Read at every log-in through LDAP or OIDC.
# "group=role@cluster" gives that role on that cluster only (CONSOLE_CLUSTER_ROLE_MAP).
CONSOLE_ROLE_MAP = parse_role_map(os.environ.get("CONSOLE_ROLE_MAP", ""))
CONSOLE_CLUSTER_ROLE_MAP = parse_cluster_role_map(os.environ.get("CONSOLE_ROLE_MAP", ""))
CONSOLE_DEFAULT_ROLE = check_default_role(os.environ.get("CONSOLE_DEFAULT_ROLE", "").strip())
# LDAP (console/identity/ldap.py), on when CONSOLE_LDAP_SERVER_URI is set: the CONSOLE_LDAP_*
# variables become django-auth-ldap's AUTH_LDAP_* settings (README "LDAP").
from console.identity.ldap_settings import BACKEND as _LDAP_BACKEND  # noqa: E402
from console.identity.ldap_settings import ldap_settings  # noqa: E402

_ldap = ldap_settings(os.environ)
if _ldap:
    globals().update(_ldap)
    AUTHENTICATION_BACKENDS.append(_LDAP_BACKEND)
# OIDC single sign-on (console/identity/oidc.py), on when CONSOLE_OIDC_ISSUER (or every
# CONSOLE_OIDC_*_ENDPOINT) is set: authorization code flow with PKCE, roles from a claim.
from console.identity.oidc_config import BACKEND as _OIDC_BACKEND  # noqa: E402
from console.identity.oidc_config import oidc_settings  # noqa: E402

_oidc = oidc_settings(os.environ)
globals().update(_oidc)
if _oidc["CONSOLE_OIDC_ENABLED"]:
    AUTHENTICATION_BACKENDS.append(_OIDC_BACKEND)
if not CONSOLE_LOCAL_ACCOUNTS:
    if not AUTHENTICATION_BACKENDS:
        raise ImproperlyConfigured(
            "CONSOLE_LOCAL_ACCOUNTS is off and neither LDAP (CONSOLE_LDAP_SERVER_URI) nor OIDC "
            "(CONSOLE_OIDC_ISSUER) is configured: nobody could log in."
        )
    # The roles' permissions still come from their groups, without password log-ins.
    AUTHENTICATION_BACKENDS.append("console.identity.backends.RolePermissionsBackend")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:clusters"
LOGOUT_REDIRECT_URL = "login"
# Log-in throttling (console/auth_views.py): within the window, this many failures for one
# user name from one address lock that pair out, and 4x as many from any addresses lock the
# user name out; an address alone never locks anyone out.
CONSOLE_LOGIN_MAX_FAILURES = int(os.environ.get("CONSOLE_LOGIN_MAX_FAILURES", "5"))
CONSOLE_LOGIN_LOCKOUT_S = int(os.environ.get("CONSOLE_LOGIN_LOCKOUT_S", "300"))
# Reverse proxies (IPs or CIDR networks) whose X-Forwarded-For names the client's address.
CONSOLE_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("CONSOLE_TRUSTED_PROXIES", "").split(",") if p.strip()
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("CONSOLE_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = DEBUG

# --- Redis (optional): Celery broker and channel layer. Without it the console needs no
# service but Kafka: Celery uses kombu's SQLAlchemy transport on SQLite (still a real
# worker process) and Channels the in-memory layer (one ASGI process).
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }
    CELERY_BROKER_URL = "sqla+sqlite:///" + str(VAR_DIR / "celery-broker.sqlite3")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", CELERY_BROKER_URL)
if CELERY_BROKER_URL.startswith("sqla+"):
    # Poll the SQLite queue every 0.2 s, so a task starts within a fraction of a second.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.2}
# Results live in the console database (the Job model); Celery's own backend stays off.
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing must fail fast when the broker is down, not hang the request.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY = False

# Produce limits: the largest message the console sends, and the most events a generator
# run may produce.
CONSOLE_MAX_MESSAGE_BYTES = int(os.environ.get("CONSOLE_MAX_MESSAGE_BYTES", str(1024 * 1024)))
CONSOLE_MAX_GENERATOR_EVENTS = int(os.environ.get("CONSOLE_MAX_GENERATOR_EVENTS", "1000000"))
# Replay (copy, redrive, import): how often a job records the position it delivered (what a
# redelivered task resumes from), and the largest file an import takes.
CONSOLE_REPLAY_CHECKPOINT_S = env_float("CONSOLE_REPLAY_CHECKPOINT_S", 1.0)
CONSOLE_REPLAY_IMPORT_MAX_BYTES = int(
    os.environ.get("CONSOLE_REPLAY_IMPORT_MAX_BYTES", str(20 * 1024 * 1024))
)

# Message search bounds: messages scanned and seconds per search, matches shown, and the
# length of one streamed chunk (each chunk is one request that carries its cursor).
CONSOLE_SEARCH_MAX_MESSAGES = int(os.environ.get("CONSOLE_SEARCH_MAX_MESSAGES", "1000000"))
CONSOLE_SEARCH_MAX_SECONDS = env_float("CONSOLE_SEARCH_MAX_SECONDS", 120.0)
CONSOLE_SEARCH_MAX_RESULTS = int(os.environ.get("CONSOLE_SEARCH_MAX_RESULTS", "500"))
CONSOLE_SEARCH_CHUNK_S = env_float("CONSOLE_SEARCH_CHUNK_S", 1.0)
# Matches the first chunk of a search shows at most; the page asks for the rest by itself
# until the search is done or shows CONSOLE_SEARCH_MAX_RESULTS (0: no first-chunk bound).
CONSOLE_SEARCH_CHUNK_RESULTS = int(os.environ.get("CONSOLE_SEARCH_CHUNK_RESULTS", "100"))

# The lag sampler (Celery beat): how often, and how long samples are kept.
CONSOLE_LAG_SAMPLE_S = env_float("CONSOLE_LAG_SAMPLE_S", 30.0)
CONSOLE_LAG_HISTORY_HOURS = env_float("CONSOLE_LAG_HISTORY_HOURS", 24.0)
# The throughput sampler (Celery beat): log-end offsets for messages in/s on the dashboard.
CONSOLE_THROUGHPUT_SAMPLE_S = env_float("CONSOLE_THROUGHPUT_SAMPLE_S", 30.0)
CONSOLE_THROUGHPUT_HISTORY_HOURS = env_float("CONSOLE_THROUGHPUT_HISTORY_HOURS", 24.0)
# Job liveness: each worker process marks its running jobs alive every CONSOLE_JOB_HEARTBEAT_S;
# the reaper (Celery beat, every CONSOLE_JOB_REAP_S) fails a running job not marked for
# CONSOLE_JOB_STALE_S (its worker was killed or lost its host), so none stays "running".
CONSOLE_JOB_HEARTBEAT_S = env_float("CONSOLE_JOB_HEARTBEAT_S", 10.0)
CONSOLE_JOB_STALE_S = env_float("CONSOLE_JOB_STALE_S", 60.0)
CONSOLE_JOB_REAP_S = env_float("CONSOLE_JOB_REAP_S", 30.0)
CELERY_BEAT_SCHEDULE = {
    "jobs-reap": {
        "task": "console.jobs_reap",
        "schedule": CONSOLE_JOB_REAP_S,
        "options": {"expires": CONSOLE_JOB_REAP_S},
    },
    "lag-sample": {"task": "groups.lag_sample", "schedule": CONSOLE_LAG_SAMPLE_S},
    # A round the worker could not start within one interval is dropped, not queued up.
    "throughput-sample": {
        "task": "console.throughput_sample",
        "schedule": CONSOLE_THROUGHPUT_SAMPLE_S,
        "options": {"expires": CONSOLE_THROUGHPUT_SAMPLE_S},
    },
}

# --- Kafka
# Clusters come from CONSOLE_CLUSTERS_FILE (TOML), CONSOLE_CLUSTERS_* or Kafka UI's
# KAFKA_CLUSTERS_<n>_* variables; see console/clusters.py and the README.
CONSOLE_CLUSTERS_FILE = os.environ.get("CONSOLE_CLUSTERS_FILE", "")
# Upper bound, in seconds, on any one request to a cluster; a page with a down broker
# answers within it.
KAFKA_REQUEST_TIMEOUT = env_float("CONSOLE_KAFKA_TIMEOUT", 5.0)
# Pages of one process share a cluster's metadata and watermarks: those asking at the same
# moment wait for one Kafka request; an answer up to this many seconds old serves too (0:
# only the one in flight; negative: every page reads afresh).
CONSOLE_KAFKA_SHARED_READS_S = env_float("CONSOLE_KAFKA_SHARED_READS_S", 0.0)
# The messages page keeps a topic's metadata (partitions, leaders) this long for the next
# pages of the same topic; messages and watermarks are always read afresh. 0: every page.
CONSOLE_BROWSE_METADATA_S = env_float("CONSOLE_BROWSE_METADATA_S", 1.0)
# Rows the live tail holds for a page that is behind (then drops the oldest, counted):
# chunks shared by the viewers, ~85 bytes a row; a second of a 10,000 msg/s topic.
CONSOLE_TAIL_BUFFER = int(env_float("CONSOLE_TAIL_BUFFER", 10_000))
# Rows frames a process sends a second, all its live-tail viewers together.
CONSOLE_TAIL_FRAMES_PER_S = env_float("CONSOLE_TAIL_FRAMES_PER_S", 2000)
# Pages many people watch (cluster overview, topic and group lists and pages) are rendered
# once per role and this many seconds in each process, and answered from that copy with the
# viewer's own name and CSRF token put back (console/shared_pages.py); 0 turns it off.
CONSOLE_SHARED_PAGE_S = env_float("CONSOLE_SHARED_PAGE_S", 1.0)
# Sessions, users and their roles read from the database are kept this long per process
# (console/identity/recent.py); a change made here is seen at once, one made by another
# process within this window (the bound the live tail gives for a lost permission, 3 s).
# 0 reads them for every request.
CONSOLE_IDENTITY_RECENT_S = env_float("CONSOLE_IDENTITY_RECENT_S", 3.0)
SESSION_ENGINE = "console.identity.sessions"
# The topic and group lists sort and page an index of every topic / group of the cluster
# at most this many seconds old (0: read it for every page); an older one, up to
# CONSOLE_LIST_INDEX_STALE_S more, is shown while a newer one is read in the background, so
# a page of a cluster with 20,000 topics or 50,000 groups never waits for the whole list.
# The rows shown (offsets, configs, lag) are read for the page; a change made through this
# process shows at once.
CONSOLE_LIST_INDEX_S = env_float("CONSOLE_LIST_INDEX_S", 5.0)
CONSOLE_LIST_INDEX_STALE_S = env_float("CONSOLE_LIST_INDEX_STALE_S", 30.0)
# Idle read-only consumers kept warm per cluster for page reads (browse, search); 0: none.
CONSOLE_KAFKA_CONSUMER_POOL = int(os.environ.get("CONSOLE_KAFKA_CONSUMER_POOL", "4"))

# --- Health and metrics (console/health.py, console/monitoring.py)
# /readyz: the bound, in seconds, on each check (database, channel layer, task queue).
CONSOLE_READYZ_TIMEOUT = env_float("CONSOLE_READYZ_TIMEOUT", 2.0)
# /metrics answers a request with "Authorization: Bearer <token>", or from these networks
# (comma-separated addresses or CIDRs); with neither set, nobody.
CONSOLE_METRICS_TOKEN = os.environ.get("CONSOLE_METRICS_TOKEN", "")
CONSOLE_METRICS_ALLOW = [
    n.strip() for n in os.environ.get("CONSOLE_METRICS_ALLOW", "").split(",") if n.strip()
]
for _net in CONSOLE_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_net, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"CONSOLE_METRICS_ALLOW: {_exc} (expected addresses or CIDR networks, "
            "comma-separated, e.g. 10.0.0.0/8,127.0.0.1)"
        ) from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CONSOLE_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Production hardening (CONSOLE_PRODUCTION=1); `manage.py check --deploy` reads these.
if os.environ.get("CONSOLE_PRODUCTION"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("CONSOLE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("CONSOLE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
