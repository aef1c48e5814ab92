"""Every function's handler wears the one decorator stack (`backbeat.observability.lambda_entry`):
logger with the Lambda context and correlation id, metrics flushed, tracer around the handler."""

from __future__ import annotations

from typing import Any

import pytest

from backbeat.observability import ENTRY_MARKER, lambda_entry
from devstack.template import load_template, merged_function_properties
from tests.support import ROOT
from tests.unit.conftest import load_function


def _handlers() -> list[tuple[str, str, str]]:
    """(function resource, code directory, handler name) for every function in template.yaml."""
    template = load_template(ROOT / "template.yaml")
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = merged_function_properties(template, resource["Properties"])
            module, _, function = props["Handler"].rpartition(".")
            assert module == "app", f"{name}: handlers live in app.py"
            found.append((name, props["CodeUri"].rstrip("/").rsplit("/", 1)[-1], function))
    return found


@pytest.mark.parametrize(("name", "code_dir", "function"), _handlers(), ids=lambda value: str(value))
def test_every_handler_wears_the_stack(name: str, code_dir: str, function: str, aws: Any) -> None:
    module = load_function(code_dir, aws)
    handler = getattr(module, function)
    assert getattr(handler, ENTRY_MARKER, False), f"{name}: {code_dir}/app.py:{function} lacks @lambda_entry(...)"
    backend = getattr(module, "backend", None)
    if callable(getattr(backend, "close", None)):  # its cold-start prefetches end while moto is up
        backend.close()


def test_the_stack_sets_the_correlation_id_and_returns_the_answer() -> None:
    from backbeat.observability import logger
    from tests.unit.conftest import FakeContext

    seen: list[str | None] = []

    @lambda_entry("requestContext.requestId")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(logger.get_correlation_id())
        return {"ok": True}

    assert handler({"requestContext": {"requestId": "abc-123"}}, FakeContext()) == {"ok": True}
    assert seen == ["abc-123"]
    assert getattr(handler, ENTRY_MARKER)
