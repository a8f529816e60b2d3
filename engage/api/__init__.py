"""The JSON API under /api/v1: bearer keys, one error shape, a generated OpenAPI document.

Declaring an endpoint (in `engage/<area>/api.py`, listed in `API_MODULES` below):

    from engage.api import ApiError, Page, PageQuery, api_route, current_api_key, paginate

    @api_route("/subscribers", methods=["GET"], role="editor", query=SubscriberQuery,
               response=Page[SubscriberOut], summary="List subscribers", tags=["subscribers"])
    def list_subscribers(query: SubscriberQuery):
        return paginate(db.session, select(Subscriber).order_by(Subscriber.id), query, to_out)

- `role`: "admin" | "editor" | "moderator" (admin ⊇ editor ⊇ moderator), `ANY_ROLE` for any
  key, `PUBLIC` for none. Required, so no endpoint is open by accident.
- `query=` / `body=`: pydantic models; the view receives them parsed as `query=` / `body=`
  keyword arguments (path variables come as usual). Invalid input answers 422 with
  `fields`; a body needs `Content-Type: application/json` (415) holding a JSON object (400).
  A NUL (U+0000) in any string of the body or in a declared query parameter is a 422 naming
  the field (PostgreSQL cannot store it; the OpenAPI document says so with a `pattern`).
- `response=`: the view returns that model, a dict or an ORM object (validated with
  `from_attributes`), optionally as `(value, status)` or `(value, status, headers)`; `status=`
  sets the default (e.g. 201). A status declared in `answers=` with a model is validated
  through that model instead.
  Returning None answers 204; returning a flask Response passes it through.
- `errors={409: "When…"}` documents the statuses a view answers beyond the frame's own (401,
  403, 404 for a path argument, 400/413/415/422 for a body, 422 for a query, 429): a status
  given there that the frame also documents (422) gets the description added to its own.
  Use it for every status the view raises, and say in it when that happens.
- `query=` models declare a filter that may be left empty with `Filter[...] = None`; PATCH
  bodies a field that may be left out but not nulled with `PatchField(...)`; `OneLine` is
  text without line breaks or control characters (subjects, anything put in a header).
- `raise ApiError(404, "…")` (or any status) for the error shape. The view's session work is
  committed after a successful response and rolled back on any exception.
- `summary=` (default: the docstring's first line), the rest of the docstring is the OpenAPI
  description, `tags=` groups operations. Timestamps: annotate fields with `Timestamp`.
- `answers=[Answer(409, "…")]` documents another answer: the error shape, or with `model=` a
  second success shape (e.g. `Answer(202, "…", JobOut)`, returned as `(value, 202)`).
"""

from __future__ import annotations

import importlib

from flask import Flask

from engage.api.framework import (
    ANY_ROLE,
    PUBLIC,
    Answer,
    ApiBlueprint,
    ApiError,
    ErrorResponse,
    Filter,
    OneLine,
    Operation,
    PatchField,
    Timestamp,
    api_route,
    bp,
    current_api_key,
)
from engage.api.pagination import MAX_PER_PAGE, Page, PageQuery, paginate

__all__ = [
    "ANY_ROLE",
    "MAX_PER_PAGE",
    "PUBLIC",
    "Answer",
    "ApiBlueprint",
    "ApiError",
    "ErrorResponse",
    "Filter",
    "OneLine",
    "Operation",
    "PatchField",
    "Page",
    "PageQuery",
    "Timestamp",
    "api_route",
    "bp",
    "current_api_key",
    "init_app",
    "paginate",
]

# Modules whose import declares endpoints on `bp`. They must be imported before the blueprint is
# registered, so a new area adds its `api` module here.
API_MODULES = (
    "engage.api.views",
    "engage.subscriptions.api",
    "engage.newsletters.api",
    "engage.comments.api",
    "engage.community.digest_api",
    "engage.community.api",
    "engage.stats.api",
)


def init_app(app: Flask) -> None:
    for module in API_MODULES:
        importlib.import_module(module)
    app.register_blueprint(bp)
