"""Headers on every response: our own assets only, no framing, no referrer leaks; HSTS in
production; and `Cache-Control: no-store` on pages reached through a personal link."""

from __future__ import annotations

from flask import Flask, current_app, g, request

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
# Two years (preload lists ask for one at least); sent only in production, where TLS is a given.
HSTS = "max-age=63072000; includeSubDomains"
NO_STORE = "no-store"


def no_store(view):
    """Mark a view reached through a token or an unguessable id (a confirmation, preferences,
    unsubscribe or moderation link): no browser or proxy may keep a copy of what it shows,
    including its error pages."""
    # Read by the after-request hook from the registered view (wrappers made with
    # functools.wraps carry the attribute up), so it holds for error responses too.
    view._engage_no_store = True
    return view


def keep_private() -> None:
    """For a page that shows something only this browser may see (its own pending reply)."""
    g.engage_no_store = True


def _is_private() -> bool:
    if g.get("engage_no_store"):
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "_engage_no_store", False))


def init_app(app: Flask) -> None:
    production = app.config["ENGAGE"].env == "production"

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", "interest-cohort=()")
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if _is_private():
            response.headers["Cache-Control"] = NO_STORE
            response.headers.pop("Expires", None)
            response.headers.pop("ETag", None)
        return response
