"""Replies under articles: threads, the check pipeline, the moderation queue and its emails."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    from engage.comments import moderation, service, views
    from engage.comments.models import REPORT_REASONS

    settings = app.config["ENGAGE"]
    if settings.proxy_count:
        # Trust X-Forwarded-For only for the configured number of proxies in front of us; with
        # none (the default) the header is ignored and the socket's address is used.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count
        )

    app.register_blueprint(views.bp)
    app.register_blueprint(moderation.bp)
    # A global, so the decision forms' macro sees it: each form carries the text it shows.
    app.jinja_env.globals["seen_hash"] = service.seen_hash

    @app.context_processor
    def _replies():
        # Functions, not values: the queries run only on pages that show a thread.
        return {
            "comment_thread": views.comment_thread,
            "report_reasons": REPORT_REASONS,
        }
