"""One error shape: an HTML page for people, `{"error": {...}}` for the API. Never a trace."""

from __future__ import annotations

import contextlib

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from engage.core.database import is_disconnect
from engage.extensions import db

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do that.",
    404: "There is no page at this address.",
    405: "This address does not accept that kind of request.",
    413: "What you sent is larger than we accept.",
    429: "Too many attempts in a short time. Please wait a little and try again.",
    500: "Something went wrong on our side. Nothing you did caused it.",
    503: "The service is briefly unavailable. Please try again shortly.",
}

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def wants_json() -> bool:
    # /webhooks/: email services post there, and read JSON answers like the API's.
    return request.path.startswith(("/api/", "/webhooks/")) or request.path == "/healthz"


def json_error(status: int, message: str, code: str | None = None, fields: dict | None = None):
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message,
            "fields": fields or {},
        }
    }
    return jsonify(body), status


def _render(status: int, message: str, title: str | None = None):
    if wants_json():
        return json_error(status, message)
    return render_template("error.html", status=status, message=message, title=title), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        return _render(
            400,
            "This form expired or was sent from somewhere else. Please go back, reload the page "
            "and try again. Nothing was saved.",
            "Form expired",
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        message = MESSAGES.get(status) or err.description or "Request failed."
        response = _render(status, message)
        if status == 405 and err.valid_methods:
            body, code = response
            resp = app.make_response((body, code))
            resp.headers["Allow"] = ", ".join(err.valid_methods)
            return resp
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if isinstance(err, HTTPException):
            return _http(err)
        if is_disconnect(err):
            # The database is restarting or unreachable. The request's transaction never
            # committed, so nothing was half done: say so, and when to try again.
            app.logger.warning(
                "database unavailable on %s %s: %s", request.method, request.path, err
            )
            with contextlib.suppress(Exception):
                db.session.rollback()
            body, status = _render(
                503,
                "We could not reach our database just now, so nothing was saved. Please try "
                "again in a minute.",
                "Briefly unavailable",
            )
            response = app.make_response((body, status))
            response.headers["Retry-After"] = "30"
            return response
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.config["ENGAGE"].env == "development" and app.debug:
            raise err
        return _http(InternalServerError())
