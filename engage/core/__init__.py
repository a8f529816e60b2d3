"""Cross-cutting pieces: error pages, health check, security headers, the dev outbox."""

from __future__ import annotations

from flask import Flask

from engage.core import edge, errors, health, security


def init_app(app: Flask) -> None:
    settings = app.config["ENGAGE"]
    edge.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    app.register_blueprint(health.bp)
    if settings.env == "development":
        from engage.core import outbox

        app.register_blueprint(outbox.bp)

    @app.context_processor
    def _site():
        return {"site_name": settings.site_name, "crisis_text": settings.crisis_text}
