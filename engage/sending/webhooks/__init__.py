"""`POST /webhooks/bounces/<provider>`: bounces and complaints that email services report.

One module per provider (ses, postmark, sendgrid, mailgun) checks the post's signature or
credentials and its age, and turns it into `BounceReport`s; `engage.sending.bounces.apply`
records each one (the same provider event twice counts once, so a replayed or retried post
changes nothing and still answers 200). A provider is off (404) until its credential is set.
Answers are JSON in the API's error shape; the body is capped at `BOUNCE_WEBHOOK_MAX_BYTES`
and posts are rate limited per client network (`BOUNCE_WEBHOOK_RATE_LIMIT`).
"""

from __future__ import annotations

import logging
from types import ModuleType

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from engage.core.errors import json_error
from engage.extensions import csrf, db, limiter
from engage.sending import bounces
from engage.sending.webhooks import mailgun, postmark, sendgrid, ses
from engage.sending.webhooks.common import Post, Refused
from engage.types import utcnow

log = logging.getLogger(__name__)

PROVIDERS: dict[str, ModuleType] = {
    "ses": ses,
    "postmark": postmark,
    "sendgrid": sendgrid,
    "mailgun": mailgun,
}

# Providers sign their posts and hold no cookie of ours: CSRF tokens have no place here.
bp = Blueprint("bounce_webhooks", __name__, url_prefix="/webhooks/bounces")
csrf.exempt(bp)


def _rate_limit() -> str:
    return current_app.config["ENGAGE"].bounce_webhook_rate_limit


def _refusal(err: Refused):
    body, status = json_error(err.status, err.message, code=err.code)
    body.status_code = status
    body.headers.update(err.headers)
    return body


def _apply(reports: list) -> None:
    for report in reports:
        bounces.apply(db.session, report)
    db.session.commit()


@bp.post("/<provider>")
@limiter.limit(_rate_limit)
def receive(provider: str):
    """Record the bounces and complaints in one provider's post; see the module docstring."""
    settings = current_app.config["ENGAGE"]
    module = PROVIDERS.get(provider)
    if module is None or not module.configured(settings):
        return json_error(404, "No bounce webhook is configured for this provider.")
    # Over the cap, werkzeug answers 413 before reading the rest.
    caps = (settings.bounce_webhook_max_bytes, current_app.config.get("MAX_CONTENT_LENGTH"))
    request.max_content_length = min(cap for cap in caps if cap)
    post = Post(
        body=request.get_data(cache=False),
        headers=request.headers,
        settings=settings,
        now=utcnow(),
        instance_path=current_app.instance_path,
    )
    try:
        reports = module.receive(post)
    except Refused as err:
        if err.status in (401, 403):
            log.warning("%s bounce webhook refused: %s", provider, err.message)
        return _refusal(err)
    for attempt in (1, 2):
        try:
            _apply(reports)
            break
        except IntegrityError:
            # The same event in two posts at once, and the other recorded it first: once
            # more, apply() sees its row and counts nothing.
            db.session.rollback()
            if attempt == 2:
                raise
        except BaseException:
            db.session.rollback()
            raise
    log.info("%s bounce webhook: %d report(s)", provider, len(reports))
    # Only how many reports the post held, never whether an address is one of our readers.
    return jsonify({"received": len(reports)})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
