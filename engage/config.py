"""Configuration: one object, built from the environment in one place."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dkim.crypto
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from engage import crisis

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


def _crisis_settings(env: dict[str, str]) -> dict:
    """CRISIS_RESOURCES (a file, checked now), CRISIS_COUNTRY and CRISIS_TEXT."""
    try:
        resources = crisis.load(env.get("CRISIS_RESOURCES", "").strip() or None)
    except crisis.CrisisFileError as exc:
        raise ConfigError(f"CRISIS_RESOURCES: {exc}") from None
    country = env.get("CRISIS_COUNTRY", "").strip().upper()
    if country and country != crisis.INTERNATIONAL and country not in resources.countries:
        known = ", ".join(sorted(resources.countries))
        raise ConfigError(
            f"CRISIS_COUNTRY={country!r} has no entry in the crisis resources file "
            f"(it has {known}); leave it empty for the international entry."
        )
    return {
        "crisis_note": (env.get("CRISIS_TEXT") or "").strip(),
        "crisis_resources": resources,
        "crisis_country": country,
    }


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


def _staff_2fa(env: dict[str, str]) -> str:
    value = (env.get("STAFF_2FA") or "optional").strip().lower()
    if value not in ("optional", "required"):
        raise ConfigError(f"STAFF_2FA must be optional or required, got {value!r}")
    return value


def _positive(env: dict[str, str], name: str, default: str) -> int:
    value = int(env.get(name) or default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _dkim(env: dict[str, str]) -> dict[str, str]:
    """DKIM settings: all of DKIM_PRIVATE_KEY (PEM or a path to it), DKIM_SELECTOR and
    DKIM_DOMAIN, or none of them."""
    key = env.get("DKIM_PRIVATE_KEY", "").strip()
    selector = env.get("DKIM_SELECTOR", "").strip()
    domain = env.get("DKIM_DOMAIN", "").strip()
    if not (key or selector or domain):
        return {}
    if not (key and selector and domain):
        raise ConfigError("DKIM needs DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN together")
    if "-----BEGIN" not in key:
        path = Path(key)
        if not path.is_file():
            raise ConfigError(f"DKIM_PRIVATE_KEY is neither a PEM key nor a readable file: {key}")
        key = path.read_text()
    try:  # a key the signer cannot read would fail every send; say so at start instead
        dkim.crypto.parse_pem_private_key(key.encode())
    except (dkim.crypto.UnparsableKeyError, ValueError) as exc:
        raise ConfigError(
            f"DKIM_PRIVATE_KEY is not an RSA private key in PEM form ({exc}); make one with "
            "`openssl genrsa -out dkim.pem 2048`"
        ) from None
    return {"dkim_private_key": key, "dkim_selector": selector, "dkim_domain": domain}


def _bounce_address(env: dict[str, str]) -> str:
    """BOUNCE_ADDRESS: a plain address (`bounces@example.org`) whose local part has no `+`,
    since VERP adds `+<token>` to it."""
    value = env.get("BOUNCE_ADDRESS", "").strip()
    if not value:
        return ""
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or "+" in local or not value.isascii():
        raise ConfigError(
            f"BOUNCE_ADDRESS must be a plain ASCII address without '+', like "
            f"bounces@example.org (got {value!r})"
        )
    return value


def _host_is_local(host: str) -> bool:
    """Loopback, `localhost` or a name under it: nobody outside this machine reaches it."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _production_senders(env: dict[str, str]) -> None:
    """Production sends mail readers act on: its links must reach them and its sender must
    be a domain that can be authenticated. Raises ConfigError saying what to set."""
    base_url = env.get("BASE_URL", "").strip()
    parts = urlsplit(base_url)
    if not base_url:
        raise ConfigError(
            "Production needs BASE_URL, the https address readers reach Engage at (every link "
            "in every email starts with it), e.g. BASE_URL=https://news.example.org"
        )
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            f"BASE_URL must be an https address in production (links in emails and secure "
            f"cookies need it), e.g. https://news.example.org; got {base_url!r}"
        )
    if _host_is_local(parts.hostname):
        raise ConfigError(
            f"BASE_URL points at this machine ({parts.hostname}): readers could not open any "
            f"link in their emails. Set it to the public https address, e.g. "
            f"https://news.example.org"
        )
    mail_from = env.get("MAIL_FROM", "").strip()
    domain = parseaddr(mail_from)[1].rpartition("@")[2].rstrip(".").lower()
    if not mail_from or "." not in domain or _host_is_local(domain) or _is_ip(domain):
        raise ConfigError(
            "Production needs MAIL_FROM with the domain your mail is authenticated for (SPF, "
            "DKIM), not localhost or a bare host name, e.g. "
            f"MAIL_FROM='News <news@example.org>'; got {mail_from or 'nothing'!r}"
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def domains_align(a: str, b: str) -> bool:
    """Relaxed alignment (as DMARC checks it): the same domain, or one a parent of the other."""
    a, b = a.rstrip(".").lower(), b.rstrip(".").lower()
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def sendgrid_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """The P-256 public key SendGrid shows as base64 DER (its PEM without the armour).

    Raises ConfigError when `value` is not one.
    """
    try:
        key = load_der_public_key(base64.b64decode("".join(value.split()), validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise ConfigError(
            "SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key (copy the verification "
            "key SendGrid shows under Mail Settings, Signed Event Webhook)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError("SENDGRID_WEBHOOK_PUBLIC_KEY must be an ECDSA P-256 key")
    return key


def _bounce_webhooks(env: dict[str, str]) -> dict:
    """Bounce and complaint webhooks (engage/sending/webhooks): a provider is on when its
    credential is set. Keys are checked here, so a bad one stops the start, not a bounce."""
    postmark = env.get("POSTMARK_WEBHOOK_AUTH", "").strip()
    if postmark and (":" not in postmark or postmark.startswith(":")):
        raise ConfigError("POSTMARK_WEBHOOK_AUTH must be user:password, as in the webhook's URL")
    sendgrid = "".join(env.get("SENDGRID_WEBHOOK_PUBLIC_KEY", "").split())
    if sendgrid:
        sendgrid_public_key(sendgrid)  # refuse a bad key at start
    arns = tuple(a.strip() for a in env.get("SES_SNS_TOPIC_ARNS", "").split(",") if a.strip())
    for arn in arns:
        if not arn.startswith("arn:aws") or arn.count(":") != 5:
            raise ConfigError(
                f"SES_SNS_TOPIC_ARNS holds {arn!r}, which is not an SNS topic ARN "
                "(arn:aws:sns:<region>:<account>:<topic>)"
            )
    return {
        "ses_sns_topic_arns": arns,
        "postmark_webhook_auth": postmark,
        "sendgrid_webhook_public_key": sendgrid,
        "mailgun_webhook_signing_key": env.get("MAILGUN_WEBHOOK_SIGNING_KEY", "").strip(),
        "bounce_webhook_max_age_seconds": _positive(env, "BOUNCE_WEBHOOK_MAX_AGE_SECONDS", "300"),
        "bounce_webhook_max_bytes": _positive(env, "BOUNCE_WEBHOOK_MAX_BYTES", str(1024 * 1024)),
        "bounce_webhook_rate_limit": (
            env.get("BOUNCE_WEBHOOK_RATE_LIMIT") or "600 per minute"
        ).strip(),
    }


BOUNCE_MAILBOX_SCHEMES = ("imap", "imaps", "pop3", "pop3s")


def _bounce_settings(env: dict[str, str]) -> dict:
    """Bounce processing: the soft-bounce rule and the mailbox beat polls (BOUNCE_MAILBOX_URL,
    checked here so a typo fails at start, not at the first poll)."""
    url = env.get("BOUNCE_MAILBOX_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in BOUNCE_MAILBOX_SCHEMES or not parts.hostname:
            raise ConfigError(
                "BOUNCE_MAILBOX_URL must look like imaps://user:pass@host/INBOX "
                "(or imap://, pop3s://, pop3://)"
            )
    poll = float(env.get("BOUNCE_POLL_SECONDS") or "300")
    if poll <= 0:
        raise ConfigError(f"BOUNCE_POLL_SECONDS must be more than 0, got {poll}")
    return {
        "bounce_soft_limit": _positive(env, "BOUNCE_SOFT_LIMIT", "3"),
        "bounce_soft_days": _positive(env, "BOUNCE_SOFT_DAYS", "30"),
        "bounce_mailbox_url": url,
        "bounce_mailbox_move_to": env.get("BOUNCE_MAILBOX_MOVE_TO", "").strip(),
        "bounce_poll_seconds": poll,
    }


DEFAULT_CRISIS_WORDS = (
    "suicide", "suicidal", "kill myself", "killing myself", "end my life", "ending my life",
    "take my own life", "want to die", "wanna die", "better off dead", "no reason to live",
    "self-harm", "self harm", "hurt myself", "hurting myself", "cut myself", "cutting myself",
    "overdose",
)  # fmt: skip
DEFAULT_SUSPECT_WORDS = ("casino", "viagra", "crypto", "bitcoin", "payday loan", "seo services")
MODERATOR_NOTIFY_MODES = ("immediate", "batched", "daily", "off")


def _words(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if name not in env:
        return default
    return tuple(w.strip().lower() for w in env[name].split(",") if w.strip())


def _comment_settings(env: dict[str, str]) -> dict:
    """Reply moderation settings (engage/comments): word lists are comma-separated."""
    # The default for staff who chose nothing (engage/accounts/notifications.py).
    notify = (env.get("MODERATOR_NOTIFY") or "batched").strip()
    if notify not in MODERATOR_NOTIFY_MODES:
        raise ConfigError(
            f"MODERATOR_NOTIFY must be one of {', '.join(MODERATOR_NOTIFY_MODES)}, got {notify!r}"
        )
    proxies = int(env.get("PROXY_COUNT") or "0")
    if proxies < 0:
        raise ConfigError(f"PROXY_COUNT must be 0 or more, got {proxies}")
    premoderation = (env.get("COMMENT_PREMODERATION") or "1").strip().lower()
    return {
        "comment_premoderation": premoderation not in ("0", "false", "no", "off"),
        "comment_banned_words": _words(env, "COMMENT_BANNED_WORDS", ()),
        "comment_crisis_words": _words(env, "COMMENT_CRISIS_WORDS", DEFAULT_CRISIS_WORDS),
        "comment_suspect_words": _words(env, "COMMENT_SUSPECT_WORDS", DEFAULT_SUSPECT_WORDS),
        "moderator_notify": notify,
        "proxy_count": proxies,
        "comment_hourly_limit": int(env.get("COMMENT_HOURLY_LIMIT") or "20"),
    }


def _digest_settings(env: dict[str, str]) -> dict:
    hour = int(env.get("DIGEST_SEND_HOUR") or "8")
    if not 0 <= hour <= 23:
        raise ConfigError(f"DIGEST_SEND_HOUR must be an hour from 0 to 23, got {hour}")
    return {
        "digest_send_hour": hour,
        "digest_batch_size": _positive(env, "DIGEST_BATCH_SIZE", "1000"),
    }


@dataclass
class Settings:
    """Everything Engage reads from its environment. Build with `Settings.from_env()`."""

    env: str = "development"
    secret_keys: list[str] = field(default_factory=lambda: [DEV_SECRET])
    database_url: str = ""
    broker_url: str = ""
    celery_queue: str = "celery"  # the queue tasks and beat's entries go to
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "Engage <newsletter@localhost>"
    base_url: str = "http://127.0.0.1:5000"
    port: int = 5000
    instance_path: str = ""
    max_content_length: int = 1024 * 1024
    site_name: str = "Engage"
    crisis_text: str = DEFAULT_CRISIS_TEXT
    # The operator's own CRISIS_TEXT, shown under the numbers (empty when not set), and the
    # resources by country (engage/crisis.py) with the instance's default country.
    crisis_note: str = ""
    crisis_resources: crisis.CrisisResources = field(default_factory=crisis.load)
    crisis_country: str = ""
    list_id_domain: str = "engage.localhost"
    rate_limit_storage: str = "memory://"
    login_rate_limit: str = "5 per minute;20 per hour"
    # STAFF_2FA: "optional", or "required" (every staff user sets up TOTP before admin pages).
    staff_2fa: str = "optional"
    signup_rate_limit: str = "10 per hour;30 per day"
    # Keys the hashes of addresses (suppression list, bans). It must outlive key rotation, so it
    # is its own setting; without it the oldest secret key is used.
    hash_key: str = ""
    confirm_max_age_hours: int = 48
    embed_origins: tuple[str, ...] = ()
    # The newsletter send pipeline (engage/newsletters/pipeline.py).
    send_rate_per_second: float = 50.0  # all workers together; 0 means no limit
    send_batch_size: int = 100  # rows a worker claims at a time
    smtp_max_connections: int = 4  # concurrent SMTP connections for bulk mail, all workers
    send_lease_seconds: int = 120  # a crashed worker's claimed rows go back after this
    send_pause_after_failures: int = 10  # consecutive temporary failures that pause a send
    send_retry_backoff: float = 1.0  # first wait after a temporary failure; doubles, max 60 s
    send_reconnect_after: int = 1000  # messages per SMTP connection before a fresh one
    # A 4xx for one reader defers that row: first wait (doubling), attempts, and window.
    send_defer_backoff: float = 300.0
    send_defer_attempts: int = 5
    send_defer_hours: float = 24.0
    # The outbox (engage/sending/outbox.py): retries of transactional mail and jobs.
    outbox_retry_backoff: float = 30.0  # first wait after a temporary failure; doubles
    outbox_retry_max_backoff: float = 300.0  # the longest wait between two attempts
    outbox_retry_hours: float = 24.0  # then the row is failed and shown to staff
    outbox_lease_seconds: int = 300  # a killed worker's row is handed out again after this
    outbox_relay_seconds: float = 5.0  # how often beat sweeps the outbox
    outbox_relay_again_seconds: float = 60.0  # relay a row again if nobody took it by then
    # DKIM signing of every message (engage/mail/signing.py): all three set, or none. The key
    # is a PEM value or a path.
    dkim_private_key: str = ""
    dkim_selector: str = ""
    dkim_domain: str = ""
    # Bounces (engage/sending/verp.py): the envelope sender; with it, VERP per message.
    bounce_address: str = ""
    # Bounce and complaint webhooks (engage/sending/webhooks): each provider is off until its
    # credential is set. Posts whose signed timestamp is older than the max age are refused.
    ses_sns_topic_arns: tuple[str, ...] = ()
    postmark_webhook_auth: str = ""  # user:password, as in the webhook URL Postmark calls
    sendgrid_webhook_public_key: str = ""  # base64 DER, as SendGrid shows it
    mailgun_webhook_signing_key: str = ""
    bounce_webhook_max_age_seconds: int = 300
    bounce_webhook_max_bytes: int = 1024 * 1024  # SendGrid batches reach 768 KB
    bounce_webhook_rate_limit: str = "600 per minute"
    # Bounce reports (engage/sending/bounces.py): soft bounces within the window suppress at
    # the limit; a mailbox (imap[s]:// or pop3[s]://) polled by beat, if set.
    bounce_soft_limit: int = 3
    bounce_soft_days: int = 30
    bounce_mailbox_url: str = ""
    bounce_mailbox_move_to: str = ""
    bounce_poll_seconds: float = 300.0
    # Replies (engage/comments): pre-moderation, word lists, moderator email, proxies.
    comment_premoderation: bool = True  # hold every reply for a moderator (site-wide)
    comment_banned_words: tuple[str, ...] = ()
    comment_crisis_words: tuple[str, ...] = DEFAULT_CRISIS_WORDS
    comment_suspect_words: tuple[str, ...] = DEFAULT_SUSPECT_WORDS
    # Held replies for staff who chose nothing: "batched", "immediate", "daily" or "off".
    moderator_notify: str = "batched"
    proxy_count: int = 0  # trusted proxies in front of the app: X-Forwarded-For hops to trust
    comment_hourly_limit: int = 20  # replies per hour from one client address (hashed)
    # Digests (engage/community/digests.py): local hour readers get them, rows built per batch.
    digest_send_hour: int = 8
    digest_batch_size: int = 1000

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
        if name == "production":
            _production_senders(env)
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
            celery_queue=env.get("CELERY_QUEUE", "").strip() or "celery",
            redis_url=redis_url,
            smtp_url=smtp_url,
            mail_from=env.get("MAIL_FROM") or "Engage <newsletter@localhost>",
            base_url=base_url,
            port=int(env.get("PORT", "5000")),
            instance_path=instance,
            max_content_length=int(env.get("MAX_CONTENT_LENGTH", str(1024 * 1024))),
            site_name=env.get("SITE_NAME", "Engage"),
            crisis_text=env.get("CRISIS_TEXT") or DEFAULT_CRISIS_TEXT,
            **_crisis_settings(env),
            list_id_domain=env.get("LIST_ID_DOMAIN")
            or (urlsplit(base_url).hostname or "localhost"),
            rate_limit_storage=env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
            staff_2fa=_staff_2fa(env),
            hash_key=env.get("HASH_KEY") or keys[0],
            confirm_max_age_hours=int(env.get("CONFIRM_MAX_AGE_HOURS", "48")),
            send_rate_per_second=float(env.get("SEND_RATE_PER_SECOND", "50")),
            send_batch_size=_positive(env, "SEND_BATCH_SIZE", "100"),
            smtp_max_connections=_positive(env, "SMTP_MAX_CONNECTIONS", "4"),
            send_lease_seconds=_positive(env, "SEND_LEASE_SECONDS", "120"),
            send_pause_after_failures=_positive(env, "SEND_PAUSE_AFTER_FAILURES", "10"),
            send_retry_backoff=float(env.get("SEND_RETRY_BACKOFF", "1.0")),
            send_reconnect_after=_positive(env, "SEND_RECONNECT_AFTER", "1000"),
            send_defer_backoff=float(env.get("SEND_DEFER_BACKOFF", "300")),
            send_defer_attempts=_positive(env, "SEND_DEFER_ATTEMPTS", "5"),
            send_defer_hours=float(env.get("SEND_DEFER_HOURS", "24")),
            outbox_retry_backoff=float(env.get("OUTBOX_RETRY_BACKOFF", "30")),
            outbox_retry_max_backoff=float(env.get("OUTBOX_RETRY_MAX_BACKOFF", "300")),
            outbox_retry_hours=float(env.get("OUTBOX_RETRY_HOURS", "24")),
            outbox_lease_seconds=_positive(env, "OUTBOX_LEASE_SECONDS", "300"),
            outbox_relay_seconds=float(env.get("OUTBOX_RELAY_SECONDS", "5")),
            outbox_relay_again_seconds=float(env.get("OUTBOX_RELAY_AGAIN_SECONDS", "60")),
            **_dkim(env),
            bounce_address=_bounce_address(env),
            **_bounce_webhooks(env),
            **_bounce_settings(env),
            **_comment_settings(env),
            **_digest_settings(env),
            embed_origins=tuple(
                o.strip().rstrip("/") for o in env.get("EMBED_ORIGINS", "").split(",") if o.strip()
            ),
        )

    @property
    def dkim_enabled(self) -> bool:
        return bool(self.dkim_private_key and self.dkim_selector and self.dkim_domain)

    def sender_warnings(self) -> list[str]:
        """What is likely to get our mail marked as spam, to log at start (never fatal)."""
        warnings = []
        from_domain = parseaddr(self.mail_from)[1].rpartition("@")[2]
        if self.dkim_enabled and not domains_align(self.dkim_domain, from_domain):
            warnings.append(
                f"DKIM_DOMAIN {self.dkim_domain} does not align with the MAIL_FROM domain "
                f"{from_domain}: DMARC checks will fail and mail may be rejected or marked as "
                f"spam. Sign with {from_domain} (or its parent domain), or send from an "
                f"address at {self.dkim_domain}."
            )
        return warnings

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
            # Redis down: count in this process's memory (with a warning) rather than fail
            # every request; a dead storage is noticed within a second, not a socket timeout.
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
            "RATELIMIT_STORAGE_OPTIONS": (
                {"socket_connect_timeout": 1, "socket_timeout": 1}
                if self.rate_limit_storage.startswith(("redis://", "rediss://"))
                else {}
            ),
        }
