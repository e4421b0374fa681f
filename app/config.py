"""Configuration read from the environment.

`MEEZAN_ENV` picks the class: `development` (default), `production` or `test`.
Production refuses to start without SECRET_KEY and DATABASE_URL; development keeps a random key in
the instance folder so no secret ever lives in the repository.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    WTF_CSRF_ENABLED = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    # Forms and API bodies are small; the org-data upload raises its own limit (32 MB) in its
    # view, and diagrams are capped at 1 MB by the engine's parser.
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    API_TOKEN_TTL_HOURS = int(os.environ.get("MEEZAN_API_TOKEN_TTL_HOURS", "12"))
    WORKFLOWS_DIR = str(Path(__file__).resolve().parent.parent / "workflows")
    # E-mail notifications (the outbox worker `flask send-notifications`).
    SMTP_HOST = os.environ.get("MEEZAN_SMTP_HOST", "localhost")
    SMTP_PORT = int(os.environ.get("MEEZAN_SMTP_PORT", "25"))
    SMTP_SECURITY = os.environ.get("MEEZAN_SMTP_SECURITY", "starttls")  # starttls | ssl | none
    SMTP_USERNAME = os.environ.get("MEEZAN_SMTP_USERNAME")
    SMTP_PASSWORD = os.environ.get("MEEZAN_SMTP_PASSWORD")
    SMTP_TIMEOUT = float(os.environ.get("MEEZAN_SMTP_TIMEOUT", "10"))
    MAIL_FROM = os.environ.get("MEEZAN_MAIL_FROM", "Meezan <meezan@localhost>")
    BASE_URL = os.environ.get("MEEZAN_BASE_URL", "http://127.0.0.1:5000")
    NOTIFY_MAX_ATTEMPTS = int(os.environ.get("MEEZAN_NOTIFY_MAX_ATTEMPTS", "10"))
    NOTIFY_BACKOFF_SECONDS = float(os.environ.get("MEEZAN_NOTIFY_BACKOFF_SECONDS", "60"))
    DIGEST_HOUR_UTC = int(os.environ.get("MEEZAN_DIGEST_HOUR_UTC", "12"))  # 17:00 in Pakistan
    # Absence dates entered as days are whole days in this time zone.
    LOCAL_TIMEZONE = os.environ.get("MEEZAN_TIMEZONE", "Asia/Karachi")
    # Logs: one line per record on stdout (`json` lines or `text` key=value) when LOG_TO_STDOUT.
    LOG_TO_STDOUT = os.environ.get("MEEZAN_LOG_TO_STDOUT", "0") == "1"
    LOG_FORMAT = os.environ.get("MEEZAN_LOG_FORMAT", "json")
    LOG_LEVEL = os.environ.get("MEEZAN_LOG_LEVEL", "INFO").upper()
    # How many reverse proxies in front set X-Forwarded-For/-Proto (0: none; the client address
    # is then the socket's, which is what login throttling counts by).
    PROXY_COUNT = int(os.environ.get("MEEZAN_PROXY_COUNT", "0"))
    HSTS_SECONDS = 0
    # Sign-in throttling: this many failures within the window lock the username (or the client
    # address, with its higher limit) out for the lockout period.
    LOGIN_MAX_FAILURES = int(os.environ.get("MEEZAN_LOGIN_MAX_FAILURES", "5"))
    LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("MEEZAN_LOGIN_MAX_FAILURES_PER_IP", "20"))
    LOGIN_FAILURE_WINDOW_MINUTES = int(os.environ.get("MEEZAN_LOGIN_WINDOW_MINUTES", "15"))
    LOGIN_LOCKOUT_MINUTES = int(os.environ.get("MEEZAN_LOGIN_LOCKOUT_MINUTES", "15"))
    TESTING = False

    def __init__(self, instance_path: str) -> None:
        url = os.environ.get("DATABASE_URL")
        if url:
            self.SQLALCHEMY_DATABASE_URI = _normalise_database_url(url)
        else:
            Path(instance_path).mkdir(parents=True, exist_ok=True)
            self.SQLALCHEMY_DATABASE_URI = f"sqlite:///{Path(instance_path) / 'meezan.db'}"
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)

    def finalise(self) -> None:
        """Recompute what depends on the database URL after overrides."""
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI or "")


class DevelopmentConfig(Config):
    def __init__(self, instance_path: str) -> None:
        super().__init__(instance_path)
        if not self.SECRET_KEY:
            self.SECRET_KEY = _instance_secret(instance_path)


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    LOG_TO_STDOUT = os.environ.get("MEEZAN_LOG_TO_STDOUT", "1") == "1"
    HSTS_SECONDS = int(os.environ.get("MEEZAN_HSTS_SECONDS", str(365 * 24 * 3600)))

    def __init__(self, instance_path: str) -> None:
        super().__init__(instance_path)
        if not self.SECRET_KEY:
            raise RuntimeError("SECRET_KEY must be set in the environment in production")
        if not os.environ.get("DATABASE_URL"):
            raise RuntimeError("DATABASE_URL must be set in the environment in production")


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = True
    # Still a real salted hash, with fewer rounds so the suite does not spend its time hashing.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 - a hash method, not a secret
    # Crash tests only (app/faults.py): pause at a named point so a test can kill the process.
    FAULT_PAUSE_AT = os.environ.get("MEEZAN_FAULT_PAUSE_AT")
    FAULT_MARKER = os.environ.get("MEEZAN_FAULT_MARKER")

    def __init__(self, instance_path: str) -> None:
        super().__init__(instance_path)
        self.SECRET_KEY = self.SECRET_KEY or secrets.token_hex(32)
        url = os.environ.get("MEEZAN_TEST_DATABASE_URL")
        if url:
            self.SQLALCHEMY_DATABASE_URI = _normalise_database_url(url)
            self.finalise()


def engine_options(url: str) -> dict:
    """SQLite waits for a busy writer instead of failing at once; PostgreSQL checks pooled
    connections before use."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_pre_ping": True,
        # A database that does not answer fails the request in seconds (a 503 page), instead of
        # holding a worker until gunicorn's timeout kills it.
        # JIT compilation costs tens of milliseconds to speed up long analytical queries; the
        # app's queries are short (a queue page of a million-row table takes a few ms): off.
        "connect_args": {"connect_timeout": int(os.environ.get("MEEZAN_DB_CONNECT_TIMEOUT", "5")),
                         "options": "-c jit=off"},
        "pool_size": int(os.environ.get("MEEZAN_DB_POOL_SIZE", "5")),
        "max_overflow": int(os.environ.get("MEEZAN_DB_MAX_OVERFLOW", "10")),
    }


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "test": TestConfig,
}


def _instance_secret(instance_path: str) -> str:
    """A per-installation random key, created on first start, never committed."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: str, name: str | None = None) -> Config:
    name = name or os.environ.get("MEEZAN_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"Unknown MEEZAN_ENV {name!r}; use one of {sorted(CONFIGS)}")
    return CONFIGS[name](instance_path)
