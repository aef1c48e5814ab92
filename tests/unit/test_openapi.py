"""docs/openapi.json is what the resolvers generate, GET /openapi.json serves exactly it, and the
document says which routes need the bearer JWT the way template.yaml does."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from devstack.template import load_template
from scripts import openapi
from tests.support import ROOT, api_event
from tests.unit.conftest import load_function
from tests.unit.test_template import PUBLIC_ROUTES, _routes

STALE = f"docs/openapi.json is stale; regenerate it with `{openapi.REGENERATE}` and commit the result"


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture
def generated(aws: Any, template: dict[str, Any]) -> str:
    resolvers = {code_dir: load_function(code_dir, aws).app for code_dir in openapi.api_functions(template)}
    return openapi.render(openapi.build(resolvers, template))


def test_the_committed_document_is_what_the_resolvers_generate(generated: str) -> None:
    assert openapi.DOCUMENT.read_text() == generated, STALE
    assert openapi.SERVED_COPY.read_text() == generated, STALE


def test_get_openapi_json_serves_the_document(aws: Any, context: Any) -> None:
    health = load_function("health", aws)
    claims = {"sub": "u-1", "token_use": "access", "client_id": "c"}
    response = health.lambda_handler(api_event("GET", "/openapi.json", claims=claims), context)
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == json.loads(openapi.DOCUMENT.read_text())


def test_every_route_but_the_public_ones_requires_the_jwt(template: dict[str, Any]) -> None:
    document = json.loads(openapi.DOCUMENT.read_text())
    assert document["security"] == [{openapi.SECURITY_SCHEME: []}]
    scheme = document["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    public = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == []
    }
    assert public == PUBLIC_ROUTES
    operations = [(m, p, o) for p, item in document["paths"].items() for m, o in item.items()]
    template_public = {(m.upper(), p) for routes in openapi.api_functions(template).values() for m, p in routes}
    assert template_public == PUBLIC_ROUTES
    shapes = {(m.upper(), re.sub(r"\{[^}]+\}", "{}", p)) for m, p, _ in operations}
    assert shapes == {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p, _, _ in _routes(template)}, "a route is undocumented"
    for method, path, operation in operations:
        errors = {code for code in operation["responses"] if int(code) >= 400}
        assert {"404", "500"} <= errors, f"{method} {path}"
        for code in errors:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {code}"
        if "requestBody" in operation:
            assert {"415", "422"} <= errors, f"{method} {path}"
