"""The OpenAPI 3.1 document, generated from the `api_route` declarations and pydantic models."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from engage.api.framework import (
    ANY_ROLE,
    HIDDEN_METHODS,
    PUBLIC,
    REALM,
    ErrorResponse,
    Operation,
    operation_of,
)

API_PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
_ARGUMENT = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?(?P<name>[a-zA-Z_]\w*)>"
)
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}

# Shared error responses; an operation lists the ones it can give.
ERROR_RESPONSES = {
    "BadRequest": (400, "The body is not valid JSON, or not a JSON object."),
    "Unauthorized": (401, "No API key, or one that is not valid, revoked or expired."),
    "Forbidden": (403, "The key's role does not allow this."),
    "NotFound": (404, "Nothing has this id."),
    "PayloadTooLarge": (413, "The body is larger than the server accepts."),
    "UnsupportedMediaType": (415, "The body is not sent as application/json."),
    "ValidationError": (422, "Some parameters or fields are not valid; see `error.fields`."),
    "RateLimited": (429, "Too many requests with this key; see Retry-After."),
    "InternalError": (500, "Something went wrong on the server."),
}


#: What every string the API reads must match: the frame refuses NUL (U+0000) with a 422.
NO_NUL_PATTERN = "^[^\\u0000]*$"


class RequestAwareSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, with the frame's own rules written into what requests may send."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        if self.mode == "validation":
            if "pattern" in json_schema:  # both must hold
                json_schema["allOf"] = [{"pattern": NO_NUL_PATTERN}]
            else:
                json_schema["pattern"] = NO_NUL_PATTERN
        return json_schema


def api_operations(app: Flask, prefix: str = API_PREFIX):
    """(rule, operation or None) for every URL rule under `prefix`, sorted by path."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)]
    for rule in sorted(rules, key=lambda r: (r.rule, r.endpoint)):
        yield rule, operation_of(app.view_functions.get(rule.endpoint))


def _path_and_parameters(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": dict(_CONVERTER_SCHEMAS.get(match["converter"] or "", {"type": "string"})),
        }
        for match in _ARGUMENT.finditer(rule)
    ]
    return _ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule), parameters


def _query_parameters(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        if prop.get("type") == "array":
            parameter["style"] = "form"
            parameter["explode"] = True
        parameters.append(parameter)
    return parameters


def _error_refs(operation: Operation, has_path_args: bool) -> dict[str, dict[str, str]]:
    names = []
    if operation.body is not None:
        names += ["BadRequest"]
    if operation.role is not PUBLIC:
        names += ["Unauthorized"]
        if operation.role != ANY_ROLE:
            names += ["Forbidden"]
    if has_path_args:
        names += ["NotFound"]
    if operation.body is not None:
        names += ["PayloadTooLarge", "UnsupportedMediaType"]
    if operation.body is not None or operation.query is not None:
        names += ["ValidationError"]
    if operation.role is not PUBLIC:
        names += ["RateLimited"]
    names += ["InternalError"]
    responses: dict[str, dict[str, Any]] = {
        str(ERROR_RESPONSES[name][0]): {"$ref": f"#/components/responses/{name}"} for name in names
    }
    shared = {status: description for status, description in ERROR_RESPONSES.values()}
    for status, description in operation.errors:
        if status in shared and str(status) in responses:
            description = f"{shared[status]} {description}"
        error_schema = {"$ref": REF.format(model="ErrorResponse")}
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": error_schema}},
        }
    return dict(sorted(responses.items()))


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every declared endpoint under /api/v1 in `app`."""
    settings = app.config["ENGAGE"]
    declared = [(rule, op) for rule, op in api_operations(app) if op is not None]

    wanted: list[tuple[type[BaseModel], str]] = [(ErrorResponse, "serialization")]
    for _, op in declared:
        wanted += [(op.query, "validation"), (op.body, "validation")]
        wanted += [(op.response, "serialization")]
        wanted += [(answer.model, "serialization") for answer in op.answers]
    pairs = list(dict.fromkeys(pair for pair in wanted if pair[0] is not None))
    schemas, top = models_json_schema(pairs, ref_template=REF, schema_generator=RequestAwareSchema)
    defs = top.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    for rule, op in declared:
        path, parameters = _path_and_parameters(rule.rule)
        if op.query is not None:
            parameters += _query_parameters(schemas[(op.query, "validation")], defs)
        success: dict[str, Any] = {"description": "Success."}
        if op.response is not None:
            success["content"] = {
                "application/json": {"schema": schemas[(op.response, "serialization")]}
            }
        elif op.status != 204:
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        responses: dict[str, Any] = {str(op.status): success}
        for answer in op.answers:
            schema = (
                schemas[(answer.model, "serialization")]
                if answer.model is not None
                else {"$ref": REF.format(model="ErrorResponse")}
            )
            responses[str(answer.status)] = {
                "description": answer.description,
                "content": {"application/json": {"schema": schema}},
            }
        responses.update(_error_refs(op, bool(rule.arguments)))
        operation: dict[str, Any] = {
            "operationId": rule.endpoint.replace(".", "_"),
            "summary": op.summary,
            "tags": list(op.tags),
            "parameters": parameters,
            "responses": dict(sorted(responses.items())),
            "security": [] if op.role is PUBLIC else [{"bearerAuth": []}],
            "x-required-role": op.role or "none",
        }
        if op.description:
            operation["description"] = op.description
        if op.deprecated:
            operation["deprecated"] = True
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas[(op.body, "validation")]}},
            }
        tags.update(dict.fromkeys(op.tags))
        methods = sorted(set(rule.methods or ()) - HIDDEN_METHODS)
        for method in methods:
            entry = dict(operation)
            if len(methods) > 1:
                entry["operationId"] = f"{operation['operationId']}_{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = entry

    error_ref = {"$ref": REF.format(model="ErrorResponse")}
    responses = {
        name: {
            "description": description,
            "content": {"application/json": {"schema": error_ref}},
        }
        for name, (_, description) in ERROR_RESPONSES.items()
    }
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {
            "description": f'`{REALM}`, with `error="invalid_token"` for a bad key.',
            "schema": {"type": "string"},
        }
    }
    responses["RateLimited"]["headers"] = {
        "Retry-After": {"description": "When to try again.", "schema": {"type": "string"}}
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{settings.site_name} API",
            "version": "1",
            "description": (
                "JSON API. Authenticate with `Authorization: Bearer <key>`; create a key with "
                "`flask --app engage api-keys create --role ROLE --name NAME`. Roles: admin "
                "includes editor, editor includes moderator; each operation's `x-required-role` "
                "says which it needs (`any`: every key; `none`: no key). Every error has the "
                'shape `{"error": {"code", "message", "fields"}}`. Timestamps are ISO 8601 in UTC.'
            ),
        },
        "servers": [{"url": settings.base_url}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "responses": responses,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `flask --app engage api-keys create`.",
                }
            },
        },
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in tags],
    }


def openapi_document(app: Flask) -> dict[str, Any]:
    """`build_openapi(app)`, built once per app (routes cannot change after the first request)."""
    document = app.extensions.get("engage_openapi")
    if document is None:
        document = app.extensions["engage_openapi"] = build_openapi(app)
    return document
