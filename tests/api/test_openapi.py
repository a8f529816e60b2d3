"""The OpenAPI document: generated from the declarations, valid, and complete."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from engage.api import ApiBlueprint
from engage.api.framework import HIDDEN_METHODS, operation_of
from engage.api.openapi import build_openapi

OPENAPI = "/api/v1/openapi.json"


def _document(client) -> dict:
    response = client.get(OPENAPI)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _api_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")]


def _openapi_path(rule) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>", f"{{{name}}}")
    return path


def _response_validator(document: dict, path: str, method: str, status: str):
    response = document["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    # Refs resolve against this root, which carries the document's components.
    return Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize("which", ["app", "probe_app"])
def test_every_api_route_is_declared_and_documented(request, which):
    app = request.getfixturevalue(which)
    document = _document(app.test_client())
    rules = _api_rules(app)
    assert rules
    for rule in rules:
        assert operation_of(app.view_functions[rule.endpoint]), (
            f"{rule.rule} is not declared with api_route"
        )
        documented = document["paths"].get(_openapi_path(rule))
        assert documented is not None, f"{rule.rule} missing from openapi.json"
        for method in set(rule.methods) - HIDDEN_METHODS:
            assert method.lower() in documented, f"{method} {rule.rule} missing from openapi.json"
    documented_count = sum(len(methods) for methods in document["paths"].values())
    declared_count = sum(len(set(rule.methods) - HIDDEN_METHODS) for rule in rules)
    assert documented_count == declared_count


@pytest.mark.parametrize("which", ["app", "probe_app"])
def test_the_document_is_valid_openapi_3_1(request, which):
    document = _document(request.getfixturevalue(which).test_client())
    assert document["openapi"].startswith("3.1")
    validate(document)
    operation_ids = [
        operation["operationId"]
        for methods in document["paths"].values()
        for operation in methods.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_document_needs_no_key_and_describes_bearer_auth(client):
    document = _document(client)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    assert document["servers"] == [{"url": "http://engage.test"}]


def test_operations_state_their_role_and_their_errors(probe_client):
    paths = _document(probe_client)["paths"]
    me = paths["/api/v1/me"]["get"]
    assert me["x-required-role"] == "any"
    assert me["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "429", "500"} <= set(me["responses"])
    assert paths["/api/v1/openapi.json"]["get"]["x-required-role"] == "none"

    echo = paths["/api/v1/_probe/echo"]["post"]
    assert echo["x-required-role"] == "editor"
    assert {"201", "400", "401", "403", "413", "415", "422", "429", "500"} <= set(echo["responses"])
    body_schema = echo["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/EchoBody"}

    item = paths["/api/v1/_probe/items/{item_id}"]
    assert set(item) == {"put", "delete"}
    assert item["put"]["x-required-role"] == "admin"
    assert item["put"]["parameters"][0] == {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert "404" in item["put"]["responses"] and "204" in item["put"]["responses"]


def test_query_models_become_query_parameters(client):
    operation = _document(client)["paths"]["/api/v1/articles"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == {"page", "per_page"}
    assert parameters["per_page"]["in"] == "query"
    assert parameters["per_page"]["schema"]["maximum"] == 100
    assert parameters["page"]["schema"]["minimum"] == 1
    assert operation["summary"] and operation["description"]


def test_a_list_parameter_is_exploded(probe_client):
    operation = _document(probe_client)["paths"]["/api/v1/_probe/search"]["get"]
    tag = next(p for p in operation["parameters"] if p["name"] == "tag")
    assert tag["schema"]["type"] == "array"
    assert tag["explode"] is True


def test_the_error_schema_is_in_the_document(client):
    document = _document(client)
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "fields"}
    unauthorized = document["components"]["responses"]["Unauthorized"]
    assert "WWW-Authenticate" in unauthorized["headers"]


def test_real_responses_match_the_documented_schemas(client, auth, make_article):
    document = _document(client)
    make_article(slug="documented", published_at=None)
    make_article(slug="documented-2")
    headers = auth()
    checks = [
        ("/api/v1/me", "/api/v1/me", "200", headers),
        ("/api/v1/articles?per_page=1", "/api/v1/articles", "200", headers),
        ("/api/v1/articles/documented", "/api/v1/articles/{slug}", "200", headers),
        ("/api/v1/articles/missing", "/api/v1/articles/{slug}", "404", headers),
        ("/api/v1/articles?page=0", "/api/v1/articles", "422", headers),
        ("/api/v1/me", "/api/v1/me", "401", {}),
    ]
    for url, path, status, request_headers in checks:
        response = client.get(url, headers=request_headers)
        assert str(response.status_code) == status, url
        _response_validator(document, path, "get", status).validate(response.get_json())


def test_declarations_refuse_unknown_roles_and_non_models():
    blueprint = ApiBlueprint("api_declaration_check", __name__, url_prefix="/api/v1/_check")
    with pytest.raises(ValueError, match="role"):
        blueprint.api_route("/x", role="owner")
    with pytest.raises(TypeError, match="pydantic"):
        blueprint.api_route("/x", role="admin", body=dict)


def test_the_document_is_built_from_the_app_it_describes(app, probe_app):
    with app.app_context():
        main = build_openapi(app)
    with probe_app.app_context():
        probe = build_openapi(probe_app)
    assert "/api/v1/_probe/echo" not in main["paths"]
    assert "/api/v1/_probe/echo" in probe["paths"]
