"""Configuration: one object, built from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEV_SECRET = "engage-development-secret-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "testing", "production")

DEFAULT_CRISIS_TEXT = (
    "If you are in crisis or thinking about suicide, you are not alone. "
    "Call or text 988 (Suicide & Crisis Lifeline, US), call 116 123 (Samaritans, UK and Ireland), "
    "or your local emergency number. Outside these countries, your local emergency services "
    "can put you in touch with help."
)


class ConfigError(RuntimeError):
    """The environment describes a configuration Engage refuses to run with."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse `smtp://user:pass@host:port`, `smtps://…` or `smtp://…?starttls=1`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"SMTP_URL must start with smtp:// or smtps://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ConfigError("SMTP_URL has no host name")
        query = parse_qs(parts.query)
        ssl = parts.scheme == "smtps"
        truthy = {"1", "true", "yes", "on"}
        starttls = query.get("starttls", ["0"])[0].lower() in truthy
        timeout = float(query.get("timeout", ["30"])[0])
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if ssl else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ssl=ssl,
            starttls=starttls,
            timeout=timeout,
        )


@dataclass
class Settings:
    """Everything Engage reads from its environment. Build with `Settings.from_env()`."""

    env: str = "development"
    secret_keys: list[str] = field(default_factory=lambda: [DEV_SECRET])
    database_url: str = ""
    broker_url: str = ""
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "Engage <newsletter@localhost>"
    base_url: str = "http://127.0.0.1:5000"
    port: int = 5000
    instance_path: str = ""
    max_content_length: int = 1024 * 1024
    site_name: str = "Engage"
    crisis_text: str = DEFAULT_CRISIS_TEXT
    list_id_domain: str = "engage.localhost"
    rate_limit_storage: str = "memory://"
    login_rate_limit: str = "5 per minute;20 per hour"
    signup_rate_limit: str = "10 per hour;30 per day"
    # Keys the hashes of addresses (suppression list, bans). It must outlive key rotation, so it
    # is its own setting; without it the oldest secret key is used.
    hash_key: str = ""
    confirm_max_age_hours: int = 48
    embed_origins: tuple[str, ...] = ()
    consent_version: str = "2026-11"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, instance_path: str = "") -> Settings:
        env = dict(os.environ if environ is None else environ)
        name = env.get("ENGAGE_ENV", "development").strip() or "development"
        if name not in ENVIRONMENTS:
            raise ConfigError(f"ENGAGE_ENV must be one of {', '.join(ENVIRONMENTS)}, got {name!r}")
        if env.get("SECRET_KEYS"):
            keys = [k.strip() for k in env["SECRET_KEYS"].split(",") if k.strip()]
        elif env.get("SECRET_KEY"):
            keys = [env["SECRET_KEY"].strip()]
        else:
            keys = []
        weak = not keys or any(k == DEV_SECRET or len(k) < 32 for k in keys)
        if name == "production" and weak:
            raise ConfigError(
                "Production needs a secret key of at least 32 characters that is not the "
                "development default. Set one with, for example:\n"
                "  export SECRET_KEY=\"$(python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')\"\n"
                "(SECRET_KEYS=old,new rotates keys: the last one signs.)"
            )
        if not keys:
            keys = [DEV_SECRET]
        instance = (
            instance_path or env.get("ENGAGE_INSTANCE_PATH", "") or str(Path.cwd() / "instance")
        )
        database_url = env.get("DATABASE_URL") or f"sqlite:///{Path(instance) / 'engage.db'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
        redis_url = env.get("REDIS_URL") or None
        broker_url = env.get("CELERY_BROKER_URL") or redis_url or "filesystem://"
        smtp_url = env.get("SMTP_URL") or None
        if smtp_url:
            SmtpSettings.from_url(smtp_url)  # fail at start, not at the first send
        base_url = (
            env.get("BASE_URL", "").rstrip("/") or f"http://127.0.0.1:{env.get('PORT', '5000')}"
        )
        return cls(
            env=name,
            secret_keys=keys,
            database_url=database_url,
            broker_url=broker_url,
            redis_url=redis_url,
            smtp_url=smtp_url,
            mail_from=env.get("MAIL_FROM") or "Engage <newsletter@localhost>",
            base_url=base_url,
            port=int(env.get("PORT", "5000")),
            instance_path=instance,
            max_content_length=int(env.get("MAX_CONTENT_LENGTH", str(1024 * 1024))),
            site_name=env.get("SITE_NAME", "Engage"),
            crisis_text=env.get("CRISIS_TEXT") or DEFAULT_CRISIS_TEXT,
            list_id_domain=env.get("LIST_ID_DOMAIN")
            or (urlsplit(base_url).hostname or "localhost"),
            rate_limit_storage=env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
            hash_key=env.get("HASH_KEY") or keys[0],
            confirm_max_age_hours=int(env.get("CONFIRM_MAX_AGE_HOURS", "48")),
            embed_origins=tuple(
                o.strip().rstrip("/") for o in env.get("EMBED_ORIGINS", "").split(",") if o.strip()
            ),
        )

    @property
    def smtp(self) -> SmtpSettings | None:
        return SmtpSettings.from_url(self.smtp_url) if self.smtp_url else None

    def flask_config(self) -> dict:
        """The Flask config mapping these settings stand for."""
        return {
            "ENGAGE_ENV": self.env,
            "ENGAGE": self,
            "SECRET_KEY": self.secret_keys[-1],
            "SECRET_KEY_FALLBACKS": self.secret_keys[:-1],
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "TESTING": self.env == "testing",
            "WTF_CSRF_TIME_LIMIT": None,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.env == "production",
            "REMEMBER_COOKIE_SECURE": self.env == "production",
            "RATELIMIT_STORAGE_URI": self.rate_limit_storage,
            "RATELIMIT_HEADERS_ENABLED": True,
        }
