"""Cross-cutting pieces: error pages, health check, security headers, the dev outbox."""

from __future__ import annotations

from flask import Flask, g, request

from engage import crisis
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
        return {
            "site_name": settings.site_name,
            "crisis_text": settings.crisis_text,
            "crisis_box": _crisis_box,
        }

    def _crisis_box() -> dict:
        """The crisis resources for this request's reader (engage.crisis.choose)."""
        country = crisis.choose(
            settings.crisis_resources,
            request.args.get("crisis"),
            request.accept_languages.values(),
            settings.crisis_country,
        )
        g.crisis_by_language = True
        return {
            "country": country,
            "choices": settings.crisis_resources.choices(),
            "note": settings.crisis_note,
            # The page's own query, so choosing a country keeps the filters a reader set.
            "keep": [(k, v) for k, v in request.args.items(multi=True) if k != "crisis"][:20],
        }

    @app.after_request
    def _vary_crisis(response):
        # The footer depends on the browser's language: caches must keep one copy per language.
        if g.get("crisis_by_language"):
            response.vary.add("Accept-Language")
        return response
