"""The API's own endpoints: GET /health (public): 200 {"status": "ok"} only when every dependency
answers, else 503; GET /openapi.json (JWT): the API's OpenAPI document (generated from the resolvers
by scripts/openapi.py, the same file as docs/openapi.json)."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.aws import client
from backbeat.config import HealthSettings
from backbeat.http import create_resolver
from backbeat.observability import HTTP_API, lambda_entry, logger
from backbeat.search.engine import connect

settings = HealthSettings()
# Parsed once at cold start: the route answers the document itself (a JSON object), as it declares.
OPENAPI_DOCUMENT: dict[str, Any] = json.loads((Path(__file__).parent / "openapi.json").read_text())
app = create_resolver()


def _probe(name: str) -> tuple[str, str]:
    try:
        if name == "catalogTable":
            client("dynamodb").describe_table(TableName=settings.catalog_table)
        elif name == "usersTable":
            client("dynamodb").describe_table(TableName=settings.users_table)
        elif name == "userPool":
            client("cognito-idp").describe_user_pool(UserPoolId=settings.user_pool_id)
        elif name == "search" and not connect(settings.search_endpoint).ping():
            raise ConnectionError("the search engine did not answer")
        return name, "ok"
    except Exception as error:
        logger.warning("health probe failed", extra={"component": name, "error": str(error)})
        return name, "unavailable"


@app.get("/health")
def health() -> Response[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        components = dict(pool.map(_probe, ("catalogTable", "usersTable", "userPool", "search")))
    healthy = all(state == "ok" for state in components.values())
    body = {"status": "ok" if healthy else "degraded", "components": components}
    return Response(status_code=200 if healthy else 503, content_type=content_types.APPLICATION_JSON, body=body)


@app.get("/openapi.json")
def openapi_document() -> Response[dict[str, Any]]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=OPENAPI_DOCUMENT,
        headers={"Cache-Control": "public, max-age=300"},
    )


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
