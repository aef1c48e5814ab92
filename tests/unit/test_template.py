"""The template is the source of truth: every handler exists, every route has a handler, every
variable a function reads is set, every non-public route is behind the JWT authorizer. What each
function's role may do is checked statement by statement in test_least_privilege.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from backbeat import config
from devstack.template import load_template, merged_function_properties
from tests.support import ROOT

PUBLIC_ROUTES = {("GET", "/health"), ("POST", "/auth/signup"), ("POST", "/auth/login"), ("POST", "/auth/refresh")}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: merged_function_properties(template, body["Properties"])
        for name, body in template["Resources"].items()
        if body["Type"] == "AWS::Serverless::Function"
    }


def _routes(template: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    routes = []
    for name, props in _functions(template).items():
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                p = event["Properties"]
                routes.append((p["Method"].upper(), p["Path"], name, (p.get("Auth") or {}).get("Authorizer")))
    return routes


def test_every_handler_exists(template: dict[str, Any]) -> None:
    for name, props in _functions(template).items():
        module, _, function = props["Handler"].rpartition(".")
        source = ROOT / props["CodeUri"] / f"{module}.py"
        assert source.is_file(), f"{name}: {source} missing"
        tree = ast.parse(source.read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert function in defined, f"{name}: {function} not defined in {source}"


def test_every_route_is_served_by_its_function(template: dict[str, Any]) -> None:
    """Each template route has a resolver route with the same method and path shape."""
    for method, path, name, _ in _routes(template):
        code_dir = ROOT / _functions(template)[name]["CodeUri"]
        source = (code_dir / "app.py").read_text()
        declared = {
            (m.upper(), re.sub(r"<[^>]+>", "{}", p))
            for m, p in re.findall(r"@app\.(get|post|put|patch|delete)\(\"([^\"]+)\"", source)
        }
        assert (method, re.sub(r"\{[^}]+\}", "{}", path)) in declared, f"{method} {path} has no handler in {name}"


def test_only_health_and_login_are_public(template: dict[str, Any]) -> None:
    api = template["Resources"]["HttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "CognitoJwt"
    public = {(method, path) for method, path, _, auth in _routes(template) if auth == "NONE"}
    assert public == PUBLIC_ROUTES


def _settings_read_by(source: Path) -> set[str]:
    names = set(re.findall(r"\b([A-Z][A-Za-z]*Settings)\(\)", source.read_text()))
    fields: set[str] = set()
    for name in names:
        model = getattr(config, name)
        fields |= {field.upper() for field, info in model.model_fields.items() if info.is_required()}
    return fields


def test_every_variable_a_function_reads_is_set(template: dict[str, Any]) -> None:
    for name, props in _functions(template).items():
        source = ROOT / props["CodeUri"] / "app.py"
        required = _settings_read_by(source)
        assert required, f"{name} reads no settings model"
        variables = set((props.get("Environment") or {}).get("Variables") or {})
        assert required <= variables, f"{name} reads {sorted(required - variables)} which the template does not set"
        assert "os.environ" not in source.read_text(), f"{name} reads the environment outside its settings model"


def test_functions_follow_the_globals(template: dict[str, Any]) -> None:
    globals_ = template["Globals"]["Function"]
    assert globals_["Architectures"] == ["arm64"] and globals_["Tracing"] == "Active"
    for name, body in template["Resources"].items():
        if body["Type"] == "AWS::Serverless::Function":
            log_group = f"{name.removesuffix('Function')}LogGroup"
            assert log_group in template["Resources"], f"{name} has no log group with retention"


def test_layer_requirements_match_the_package(template: dict[str, Any]) -> None:
    """The layer ships exactly the runtime dependencies the package declares."""
    import tomllib

    layer = template["Resources"]["BackbeatLayer"]["Properties"]
    requirements = (ROOT / layer["ContentUri"] / "requirements.txt").read_text().split()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(requirements) == sorted(declared)
    assert Path(ROOT / layer["ContentUri"] / "backbeat" / "__init__.py").is_file()


def test_cloudfront_sends_the_cache_control_the_devstack_sends(template: dict[str, Any]) -> None:
    """Segments immutable for a year, playlists five minutes (signing.cache_control), and every
    behaviour of the media distribution checks the token first."""
    from backbeat.media import signing

    resources = template["Resources"]
    config_ = resources["MediaDistribution"]["Properties"]["DistributionConfig"]
    behaviours = {"*": config_["DefaultCacheBehavior"]} | {b["PathPattern"]: b for b in config_["CacheBehaviors"]}

    def cache_control(behaviour: dict[str, Any]) -> str:
        policy = resources[behaviour["ResponseHeadersPolicyId"]["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
        assert policy["CorsConfig"]["AccessControlAllowOrigins"]["Items"] == ["*"]  # hls.js in browsers
        (header,) = [h for h in policy["CustomHeadersConfig"]["Items"] if h["Header"] == "Cache-Control"]
        return str(header["Value"])

    assert cache_control(behaviours["*"]) == signing.cache_control("master_128k_00000.m4s")
    assert cache_control(behaviours["*.m3u8"]) == signing.cache_control("master_128k.m3u8")
    for behaviour in behaviours.values():
        (association,) = behaviour["FunctionAssociations"]
        assert association["EventType"] == "viewer-request"
        assert association["FunctionARN"] == {"Fn::GetAtt": ["MediaTokenFunction", "FunctionMetadata.FunctionARN"]}
