"""The OpenAPI document of the HTTP API, generated from the functions' Powertools resolvers.

    python scripts/openapi.py            print it
    python scripts/openapi.py --write    update docs/openapi.json and the copy GET /openapi.json serves

Each API function's resolver describes its own routes (parameters, request and response models);
the documents are merged into one (Powertools' OpenAPIMerge), then the template adds what only it
knows: which routes are public. Every other operation requires the bearer JWT, and every operation
lists the error statuses it can answer with the one error schema (`backbeat.http`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
SERVED_COPY = ROOT / "functions" / "health" / "openapi.json"  # what GET /openapi.json answers
REGENERATE = "python scripts/openapi.py --write"

# OpenAPI `links`: which later requests can use what an answer names (the id of a playlist just made,
# the item id of a song just added). Clients and stateful fuzzing (tests/e2e/test_api_fuzz.py) follow
# them. (method, path, status) -> link name -> (target method, target path, parameters or a body).
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, Any]]]] = {
    ("post", "/playlists", "201"): {
        name: (method, path, {"parameters": {"playlist_id": "$response.body#/id"}})
        for name, method, path in (
            ("GetPlaylist", "get", "/playlists/{playlist_id}"),
            ("UpdatePlaylist", "patch", "/playlists/{playlist_id}"),
            ("AddTracks", "post", "/playlists/{playlist_id}/tracks"),
            ("ReorderTracks", "put", "/playlists/{playlist_id}/tracks"),
            ("AddCollaborator", "post", "/playlists/{playlist_id}/collaborators"),
            ("DeletePlaylist", "delete", "/playlists/{playlist_id}"),
        )
    },
    ("post", "/playlists/{playlist_id}/tracks", "201"): {
        "RemoveTrack": (
            "delete",
            "/playlists/{playlist_id}/tracks/{item_id}",
            {"parameters": {"playlist_id": "$request.path.playlist_id", "item_id": "$response.body#/itemId"}},
        ),
        "GetPlaylist": (
            "get",
            "/playlists/{playlist_id}",
            {"parameters": {"playlist_id": "$request.path.playlist_id"}},
        ),
    },
    ("post", "/me/devices", "201"): {
        "RemoveDevice": (
            "delete",
            "/me/devices/{device_id}",
            {"parameters": {"device_id": "$response.body#/deviceId"}},
        ),
    },
    ("post", "/auth/signup", "201"): {"LogIn": ("post", "/auth/login", {"requestBody": "$request.body"})},
}

TITLE = "Backbeat HTTP API"
VERSION = "1"
SECURITY_SCHEME = "cognitoJwt"


def api_functions(template: Mapping[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """Code directory of each function serving HttpApi routes -> its public (method, path shape) pairs."""
    from devstack.template import merged_function_properties

    found: dict[str, set[tuple[str, str]]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = merged_function_properties(template, resource["Properties"])
        events = [e["Properties"] for e in (props.get("Events") or {}).values() if e["Type"] == "HttpApi"]
        if events:
            public = {
                (e["Method"].lower(), _shape(e["Path"]))
                for e in events
                if (e.get("Auth") or {}).get("Authorizer") == "NONE"
            }
            found[Path(props["CodeUri"]).name] = public
    return dict(sorted(found.items()))


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def build(resolvers: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """The merged document for `resolvers` (code directory -> the module's `app`)."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from backbeat.http import ERROR_STATUSES, ErrorBody

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description="Generated from the functions' resolvers by `" + REGENERATE + "`; do not edit by hand.",
        security_schemes={
            SECURITY_SCHEME: HTTPBearer(
                scheme="bearer",
                bearerFormat="JWT",
                description="A Cognito access token from POST /auth/login, as `Authorization: Bearer <token>`.",
            )
        },
        security=[{SECURITY_SCHEME: []}],
        on_conflict="error",
    )
    public: set[tuple[str, str]] = set()
    for code_dir, routes in api_functions(template).items():
        merge.add_schema(resolvers[code_dir].get_openapi_schema())
        public |= routes
    document = json.loads(merge.get_openapi_json_schema())

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["Error"] = error_schema
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            is_public = (method, _shape(path)) in public
            if is_public:
                operation["security"] = []
            responses = {code: answer for code, answer in operation["responses"].items() if int(code) < 400}
            for status in _error_statuses(method, operation, is_public):
                responses[str(status)] = {
                    "description": ERROR_STATUSES[status],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                if status == 429:
                    responses[str(status)]["headers"] = {
                        "Retry-After": {
                            "description": "Seconds until the caller may retry",
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    }
            operation["responses"] = dict(sorted(responses.items()))
    document["paths"] = dict(sorted(document.get("paths", {}).items()))
    _add_links(document["paths"])
    # Powertools' own validation-error shapes are answered by our Error schema instead.
    text = json.dumps(document["paths"])
    referenced = {name for name in schemas if f'"#/components/schemas/{name}"' in text or name == "ErrorDetail"}
    document["components"]["schemas"] = {name: schemas[name] for name in sorted(referenced)}
    return dict(document)


def _add_links(paths: dict[str, Any]) -> None:
    """LINKS on the answers they start from, naming each target by its operationId (which follows
    the handler's name, so it is looked up rather than written down)."""
    for (method, path, status), links in LINKS.items():
        answer = paths[path][method]["responses"][status]
        answer["links"] = {
            name: {"operationId": paths[target_path][target_method]["operationId"], **fields}
            for name, (target_method, target_path, fields) in sorted(links.items())
        }


def _error_statuses(method: str, operation: Mapping[str, Any], public: bool) -> list[int]:
    statuses = {404, 500, 503}
    if not public:
        statuses.add(401)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if operation.get("requestBody"):
        statuses |= {400, 413, 415}
    if any(parameter["in"] in ("path", "query") for parameter in operation.get("parameters", [])):
        statuses.add(414)  # a path or query can be made longer than API Gateway's request line quota
    if method in ("post", "put", "patch", "delete"):
        statuses |= {403, 409} if not public else {401, 409}
    if "403" in operation.get("responses", {}):  # a read the route restricts (declared with `responses`)
        statuses.add(403)
    if not public or method == "post":  # rate limits: per user, per source IP (sign-up), per account (login)
        statuses.add(429)
    return sorted(statuses)


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@contextmanager
def _deployment() -> Iterator[Any]:
    """The template's resources in moto's memory, so the functions' modules import as at a cold start."""
    from moto import mock_aws

    from devstack.resources import create_dev_resources

    for key, value in {
        "AWS_ACCESS_KEY_ID": "openapi",
        "AWS_SECRET_ACCESS_KEY": "openapi",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        os.environ[key] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        # the search endpoint is never called: no module searches at import
        yield create_dev_resources(ROOT, "openapi", search_endpoint=lambda: "http://127.0.0.1:9")


def load_resolvers(template: Mapping[str, Any]) -> dict[str, Any]:
    resolvers: dict[str, Any] = {}
    with _deployment() as deployment:
        environments = {spec.code_dir.name: spec.environment for spec in deployment.functions}
        for code_dir in api_functions(template):
            saved = dict(os.environ)
            os.environ.update(environments[code_dir])
            try:
                spec = importlib.util.spec_from_file_location(
                    f"_openapi_{code_dir}_app", ROOT / "functions" / code_dir / "app.py"
                )
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                resolvers[code_dir] = module.app
            finally:
                os.environ.clear()
                os.environ.update(saved)
    return resolvers


def main(argv: list[str]) -> int:
    from devstack.template import load_template

    template = load_template(ROOT / "template.yaml")
    text = render(build(load_resolvers(template), template))
    if "--write" in argv:
        for target in (DOCUMENT, SERVED_COPY):
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "layers" / "backbeat"), str(ROOT)]
    raise SystemExit(main(sys.argv[1:]))
