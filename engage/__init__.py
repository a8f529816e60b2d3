"""Engage: newsletters, moderated replies and support-group digests for one publication."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from engage.config import Settings

ENV_KEYS = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_QUEUE",
    "REDIS_URL",
    "SMTP_URL",
    "MAIL_FROM",
    "BASE_URL",
    "SECRET_KEY",
    "SECRET_KEYS",
    "ENGAGE_ENV",
    "PORT",
    "MAX_CONTENT_LENGTH",
    "SITE_NAME",
    "CRISIS_TEXT",
    "CRISIS_RESOURCES",
    "CRISIS_COUNTRY",
    "LIST_ID_DOMAIN",
    "RATELIMIT_STORAGE_URI",
    "ENGAGE_INSTANCE_PATH",
    "HASH_KEY",
    "CONFIRM_MAX_AGE_HOURS",
    "EMBED_ORIGINS",
    "SEND_RATE_PER_SECOND",
    "SEND_BATCH_SIZE",
    "SMTP_MAX_CONNECTIONS",
    "SEND_LEASE_SECONDS",
    "SEND_PAUSE_AFTER_FAILURES",
    "SEND_RETRY_BACKOFF",
    "SEND_RECONNECT_AFTER",
    "SEND_DEFER_BACKOFF",
    "SEND_DEFER_ATTEMPTS",
    "SEND_DEFER_HOURS",
    "OUTBOX_RETRY_BACKOFF",
    "OUTBOX_RETRY_MAX_BACKOFF",
    "OUTBOX_RETRY_HOURS",
    "OUTBOX_LEASE_SECONDS",
    "OUTBOX_RELAY_SECONDS",
    "OUTBOX_RELAY_AGAIN_SECONDS",
    "DKIM_PRIVATE_KEY",
    "DKIM_SELECTOR",
    "DKIM_DOMAIN",
    "BOUNCE_ADDRESS",
    "COMMENT_PREMODERATION",
    "COMMENT_BANNED_WORDS",
    "COMMENT_CRISIS_WORDS",
    "COMMENT_SUSPECT_WORDS",
    "MODERATOR_NOTIFY",
    "PROXY_COUNT",
    "COMMENT_HOURLY_LIMIT",
    "DIGEST_SEND_HOUR",
    "DIGEST_BATCH_SIZE",
    "SES_SNS_TOPIC_ARNS",
    "POSTMARK_WEBHOOK_AUTH",
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "BOUNCE_WEBHOOK_MAX_AGE_SECONDS",
    "BOUNCE_WEBHOOK_MAX_BYTES",
    "BOUNCE_WEBHOOK_RATE_LIMIT",
    "BOUNCE_SOFT_LIMIT",
    "BOUNCE_SOFT_DAYS",
    "BOUNCE_MAILBOX_URL",
    "BOUNCE_MAILBOX_MOVE_TO",
    "BOUNCE_POLL_SECONDS",
}


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the Flask app. `config` overrides the environment (same names) and Flask settings."""
    overrides = dict(config or {})
    environ = dict(os.environ)
    environ.update({k: str(v) for k, v in overrides.items() if k in ENV_KEYS})
    instance_path = environ.get("ENGAGE_INSTANCE_PATH") or str(Path.cwd() / "instance")
    settings = Settings.from_env(environ, instance_path=instance_path)

    app = Flask(__name__, instance_path=settings.instance_path, instance_relative_config=False)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(settings.flask_config())
    for warning in settings.sender_warnings():
        logging.getLogger("engage.config").warning(warning)
    app.config.update({k: v for k, v in overrides.items() if k not in ENV_KEYS})

    from engage import extensions, queue
    from engage.core import database

    extensions.db.init_app(app)
    database.init_app(app)
    extensions.migrate.init_app(
        app,
        extensions.db,
        directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=True,
    )
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    queue.init_celery(app)

    from engage import models  # noqa: F401  (registers every table for Alembic)
    from engage.accounts import init_app as init_accounts
    from engage.api import init_app as init_api
    from engage.articles import init_app as init_articles
    from engage.comments import init_app as init_comments
    from engage.community import init_app as init_community
    from engage.core import init_app as init_core
    from engage.mail import init_app as init_mail
    from engage.newsletters import init_app as init_newsletters
    from engage.sending import init_app as init_sending
    from engage.sending.webhooks import init_app as init_bounce_webhooks
    from engage.stats import init_app as init_stats
    from engage.subscriptions import init_app as init_subscriptions

    init_core(app)
    init_accounts(app)
    init_articles(app)
    init_api(app)
    init_mail(app)
    init_sending(app)
    init_subscriptions(app)
    init_newsletters(app)
    init_comments(app)
    init_community(app)
    init_bounce_webhooks(app)
    init_stats(app)
    return app
