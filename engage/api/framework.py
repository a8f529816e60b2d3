"""The frame every /api/v1 endpoint is declared with: auth, parsing, errors, one JSON shape.

An endpoint is declared once with `api_route`, and that declaration is everything: the view is
wrapped with bearer-key authentication and role checks, its query string and JSON body are
validated into pydantic models, its return value is serialised through its response model, and
the OpenAPI document is generated from the same declaration.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, Any

from flask import Blueprint, Response, current_app, g, request
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)

from engage.accounts.models import ROLES, ApiKey, role_allows
from engage.accounts.service import InvalidApiKey, authenticate_api_key, note_api_key_used
from engage.core.errors import json_error
from engage.extensions import csrf, db, limiter

#: `role=ANY_ROLE`: any live key may call the endpoint, whatever its role.
ANY_ROLE = "any"
#: `role=PUBLIC`: no key needed (the OpenAPI document, for example).
PUBLIC = None

DEFAULT_RATE_LIMIT = "600 per minute"
REALM = 'Bearer realm="engage"'
HIDDEN_METHODS = frozenset({"HEAD", "OPTIONS"})  # added by Flask, not declared, not documented


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _blank_allowed(schema: dict[str, Any]) -> None:
    branches = schema.pop("anyOf", None) or [
        {key: schema.pop(key) for key in list(schema) if key not in ("default", "description")}
    ]
    schema["anyOf"] = [*branches, {"const": ""}]


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def PatchField(**constraints: Any) -> Any:  # noqa: N802 (reads like pydantic's Field)
    """A field a PATCH may leave out but not set to null: `name: str = PatchField(max_length=9)`.

    Left out, it is unset (see `model_dump(exclude_unset=True)`); sent as null, it is a 422,
    and the OpenAPI document says neither null nor a default.
    """
    return Field(None, json_schema_extra=_without_default, **constraints)


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ONE_LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _one_line(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must be one line, without control characters")
    return value


#: Text that ends up in a header or on one line (a subject): no line breaks or control
#: characters, refused with a 422 (the document's `pattern` says so).
OneLine = Annotated[
    str, AfterValidator(_one_line), Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})
]

T = typing.TypeVar("T")

#: A query filter that may be left empty: `?status=` means no filter, as an HTML form sends it
#: (`Filter[Literal["a", "b"]] = None`). The OpenAPI document says the empty value is allowed.
Filter = Annotated[
    T | None, BeforeValidator(_blank_is_none), Field(json_schema_extra=_blank_allowed)
]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: outside what UTC can hold
        raise ValueError("timestamp is out of range") from None


#: A timestamp in and out of the API: an aware datetime, normalised to UTC, written as ISO 8601
#: with its offset (`2024-05-01T09:30:00+00:00`). Naive input is refused with a 422.
Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_utc),
    PlainSerializer(lambda value: _utc(value).isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str]


class ErrorResponse(BaseModel):
    """The one error shape under /api/: `{"error": {"code", "message", "fields"}}`."""

    error: ErrorDetail


class ApiError(Exception):
    """Raise from a view to answer with the API error shape, e.g. `ApiError(404, "No such…")`.

    `code` defaults to the one for the status (engage.core.errors.CODES); `fields` maps a field
    path to a message; `headers` are added to the response.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(err: ApiError) -> Response:
    body, status = json_error(err.status, err.message, code=err.code, fields=err.fields)
    body.status_code = status
    body.headers.update(err.headers)
    return body


@dataclass(frozen=True)
class Answer:
    """A documented answer besides the declared success and the usual errors: `model` for
    another success shape (a 202, say), or None for the error shape (a 409, say)."""

    status: int
    description: str
    model: type[BaseModel] | None = None


@dataclass(frozen=True)
class Operation:
    """What one `api_route` declaration says; the OpenAPI document is built from these."""

    rule: str
    methods: tuple[str, ...]
    role: str | None
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str
    description: str
    tags: tuple[str, ...]
    deprecated: bool = False
    errors: tuple[tuple[int, str], ...] = ()
    answers: tuple[Answer, ...] = ()


def operation_of(view: Callable | None) -> Operation | None:
    """The declaration behind a registered view function, or None for an undeclared view."""
    return getattr(view, "api_operation", None)


def current_api_key() -> ApiKey:
    """The API key the current request was authenticated with (inside a non-public view)."""
    key = g.get("api_key")
    if key is None:
        raise RuntimeError("current_api_key() called outside an authenticated API request")
    return key


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _authenticate(role: str | None) -> ApiKey | None:
    g.api_key = None
    if role is PUBLIC:
        return None
    token = _bearer_token()
    if token is None:
        raise ApiError(
            401,
            "Send an API key in the header 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": REALM},
        )
    # Keys are short; anything far longer is not one of ours, and need not be hashed.
    try:
        if len(token) > 256:
            raise InvalidApiKey("This API key is not valid.")
        key = authenticate_api_key(db.session, token)
    except InvalidApiKey as exc:
        raise ApiError(
            401,
            str(exc),
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        ) from None
    # Its own short transaction, committed before the view runs: a failed request still counts
    # as a use, and a long one does not hold the key's row locked.
    if note_api_key_used(db.session, key):
        db.session.commit()
    if role != ANY_ROLE and not role_allows(key.role, role):
        raise ApiError(403, f"This endpoint needs a key with the {role} role (or above).")
    g.api_key = key
    return key


def _field_errors(err: ValidationError, root: str) -> dict[str, str]:
    """`{"field.path": "message"}` from a pydantic error, without echoing the input back."""
    fields: dict[str, str] = {}
    for item in err.errors(include_url=False, include_input=False, include_context=False):
        path = ".".join(str(part) for part in item["loc"]) or root
        fields[path] = f"{fields[path]}; {item['msg']}" if path in fields else item["msg"]
    return fields


NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character (U+0000)"


def _nul_fields(payload: Any) -> dict[str, str]:
    """`{"field.path": message}` for every string in a JSON value that holds a NUL.

    PostgreSQL cannot store NUL in text, and no field of ours needs one: refusing it here, with
    the field named, is what keeps it from becoming a 500 deep inside a view. Iterative, so a
    deeply nested body cannot exhaust the stack.
    """
    found: dict[str, str] = {}
    stack: list[tuple[Any, tuple[str, ...]]] = [(payload, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                found[".".join(path)] = NUL_MESSAGE
        elif isinstance(value, dict):
            for key, item in value.items():
                if NUL in key:  # name where the bad key is, without echoing it back
                    found[".".join(path) or "body"] = f"a field name {NUL_MESSAGE}"
                else:
                    stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))
    return found


def _merge_fields(*many: dict[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for fields in many:
        for path, message in fields.items():
            merged[path] = f"{merged[path]}; {message}" if path in merged else message
    return merged


def _is_many(annotation: Any) -> bool:
    """True for list/set/tuple fields (optionally `| None`): those take a repeated parameter."""
    origin = typing.get_origin(annotation)
    if origin in (list, set, frozenset, tuple, Sequence):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_many(arg) for arg in typing.get_args(annotation))
    return False


def _parse_query(model: type[BaseModel]) -> BaseModel:
    many = {
        field.alias or name
        for name, field in model.model_fields.items()
        if _is_many(field.annotation)
    }
    data = {
        key: request.args.getlist(key) if key in many else request.args.get(key)
        for key in request.args
    }
    declared = {field.alias or name for name, field in model.model_fields.items()}
    # Only declared parameters: the others are never read, so a NUL in them harms nothing.
    nul = {
        key: NUL_MESSAGE
        for key in declared
        if any(NUL in value for value in request.args.getlist(key))
    }
    errors: dict[str, str] = {}
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        errors = _field_errors(exc, "query")
    if nul or errors:
        raise ApiError(
            422, "Some query parameters are not valid.", fields=_merge_fields(nul, errors)
        )
    return parsed


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise ApiError(
            415, "Send the body as JSON, with the header Content-Type: application/json."
        )
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: werkzeug raises a 413
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "The JSON body must be an object.")
    nul = _nul_fields(payload)
    errors: dict[str, str] = {}
    try:
        # Strict, as JSON: a field is the JSON type its schema says (no "1" for 1, no 0 for a
        # timestamp, no false for an id), so the OpenAPI document is the whole contract.
        parsed = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            # What json.loads lets through and JSON does not allow (a lone surrogate "\ud800").
            raise ApiError(400, "The body is not valid JSON.") from None
        errors = _field_errors(exc, "body")
    if nul or errors:
        raise ApiError(422, "Some fields are not valid.", fields=_merge_fields(nul, errors))
    return parsed


def _respond(operation: Operation, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    status, headers = operation.status, {}
    if isinstance(result, tuple):
        result, status, *extra = result
        headers = extra[0] if extra else {}
    if result is None:
        return Response(status=204, headers=headers)
    response_model = operation.response
    if status != operation.status:
        declared = [a.model for a in operation.answers if a.status == status and a.model]
        response_model = declared[0] if declared else response_model
    if response_model is not None:
        # A mistake here is ours, not the caller's: a ValidationError becomes a 500.
        model = response_model.model_validate(result, from_attributes=True)
        payload = model.model_dump_json(by_alias=True)
    else:
        payload = json.dumps(result, separators=(",", ":"))
    return Response(payload, status=status, mimetype="application/json", headers=headers)


def _rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT)


def _rate_key() -> str:
    # Per key, not per address: a hash of the presented token, never the token itself.
    token = _bearer_token() or ""
    return "api-key:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _without_key() -> bool:
    # Anonymous requests only reach the public document or a 401; they are not counted.
    return _bearer_token() is None


def _api_headers(response: Response) -> Response:
    if request.headers.get("Authorization"):
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Authorization")
    return response


class ApiBlueprint(Blueprint):
    """A blueprint for JSON endpoints: CSRF-exempt (bearer keys, no cookies), rate limited per
    key, with `api_route` to declare endpoints."""

    def __init__(self, name: str, import_name: str, **options: Any) -> None:
        super().__init__(name, import_name, **options)
        csrf.exempt(self)
        limiter.shared_limit(
            _rate_limit, scope="api", key_func=_rate_key, exempt_when=_without_key
        )(self)
        self.register_error_handler(ApiError, error_response)
        self.after_request(_api_headers)

    def api_route(
        self,
        rule: str,
        *,
        role: str | None,
        methods: Sequence[str] = ("GET",),
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str | None = None,
        tags: Sequence[str] = (),
        endpoint: str | None = None,
        deprecated: bool = False,
        errors: typing.Mapping[int, str] | None = None,
        answers: Sequence[Answer] = (),
    ) -> Callable[[Callable], Callable]:
        """Declare a JSON endpoint. See engage/api/__init__.py for the full contract."""
        if role is not PUBLIC and role != ANY_ROLE and role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, ANY_ROLE or PUBLIC, got {role!r}")
        for model in (query, body, response, *(answer.model for answer in answers)):
            if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{model!r} is not a pydantic model class")
        if status == 204 and response is not None:
            raise ValueError("a 204 response has no body, so it takes no response model")
        declared = tuple(method.upper() for method in methods)

        def decorator(view: Callable) -> Callable:
            doc = inspect.cleandoc(view.__doc__ or "")
            first, _, rest = doc.partition("\n")
            if summary:  # an explicit summary keeps the whole docstring as the description
                first, rest = summary, doc
            operation = Operation(
                rule=rule,
                methods=declared,
                role=role,
                query=query,
                body=body,
                response=response,
                status=status,
                summary=first.strip(),
                description=rest.strip(),
                tags=tuple(tags),
                deprecated=deprecated,
                errors=tuple(sorted((errors or {}).items())),
                answers=tuple(answers),
            )

            @wraps(view)
            def handle(**path_args: Any) -> Response:
                _authenticate(role)
                kwargs = dict(path_args)
                if query is not None:
                    kwargs["query"] = _parse_query(query)
                if body is not None:
                    kwargs["body"] = _parse_body(body)
                # The request owns the transaction: commit what the view did, or nothing.
                try:
                    result = _respond(operation, view(**kwargs))
                    db.session.commit()
                except BaseException:
                    db.session.rollback()
                    raise
                return result

            handle.api_operation = operation  # type: ignore[attr-defined]
            self.add_url_rule(rule, endpoint or view.__name__, handle, methods=list(declared))
            return view

        return decorator


#: The /api/v1 blueprint; `api_route` declares an endpoint on it.
bp = ApiBlueprint("api", __name__, url_prefix="/api/v1")
api_route = bp.api_route
