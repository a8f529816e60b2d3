"""The first check on every request: no NUL (U+0000) gets past the edge.

PostgreSQL's text columns refuse NUL, so a NUL that reaches a query is a 500 instead of an
answer. No address, slug, token or form field of ours holds one, so refusing it here costs
nothing: a path with a NUL names nothing (404), a query string or form field with one cannot be
understood (400). Under /api/ the path is checked here and the frame (engage.api.framework)
checks query parameters and JSON bodies, so its 422 can name the field.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, NotFound

NUL = "\x00"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def has_nul(value: object) -> bool:
    """True when a string, or any key or string inside a JSON-like value, holds a NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _multidict_has_nul(values: MultiDict) -> bool:
    return any(NUL in key or NUL in value for key, value in values.items(multi=True))


def refuse_nul() -> None:
    """`before_request`: raise 404 for a NUL in the path, 400 in the query string or a form."""
    if NUL in request.path or NUL in request.script_root:
        raise NotFound()
    if request.path.startswith("/api/"):
        return  # the API frame answers for its own query strings and bodies
    if _multidict_has_nul(request.args):
        raise BadRequest()
    if request.mimetype in FORM_TYPES and _multidict_has_nul(request.form):
        raise BadRequest()


def init_app(app: Flask) -> None:
    # First of all before_request hooks: ahead of the CSRF check and the rate limiter, so a NUL
    # gets the same answer whoever sends it, and nothing else reads it.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul)
