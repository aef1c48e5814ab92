"""What the rest of the devstack knows about a created stack: its routes, authorizers, event source
mappings, WebSocket APIs and outputs (plain data; devstack/resources/creator.py fills it in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.firehose import DeliverySpec
from devstack.lambdas import FunctionSpec
from devstack.template import Resolver


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class HttpRoute:
    api: str
    method: str
    path: str
    function: str
    authorizer: str | None


@dataclass(frozen=True)
class HttpApi:
    logical_id: str
    api_id: str
    authorizers: dict[str, JwtAuthorizer]
    cors: dict[str, Any] | None


@dataclass(frozen=True)
class EventSourceMapping:
    function: str
    kind: str  # "dynamodb" | "kinesis" | "sqs"
    source_arn: str
    batch_size: int
    starting_position: str = "TRIM_HORIZON"
    batching_window_seconds: float = 0
    report_batch_item_failures: bool = False
    maximum_retry_attempts: int = -1
    on_failure_arn: str | None = None
    queue_url: str | None = None
    bisect_on_error: bool = False


@dataclass
class WebSocketApi:
    """An AWS::ApiGatewayV2::Api of ProtocolType WEBSOCKET, with its routes and stage."""

    logical_id: str
    api_id: str
    route_selection_expression: str
    endpoint: str  # what GetAtt ApiEndpoint gives: ws://host:port locally, wss://... in AWS
    integrations: dict[str, str] = field(default_factory=dict)  # integration id -> function name or ARN
    routes: dict[str, str] = field(default_factory=dict)  # route key -> integration id
    stages: list[str] = field(default_factory=list)

    def function_for(self, route_key: str) -> str | None:
        integration = self.routes.get(route_key)
        return self.integrations.get(integration) if integration else None


@dataclass
class Deployment:
    """Everything the rest of the devstack needs to know about the created stack."""

    resolver: Resolver
    functions: list[FunctionSpec] = field(default_factory=list)
    apis: dict[str, HttpApi] = field(default_factory=dict)
    routes: list[HttpRoute] = field(default_factory=list)
    mappings: list[EventSourceMapping] = field(default_factory=list)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    search_collections: dict[str, str] = field(default_factory=dict)  # logical id -> collection name
    websocket_apis: dict[str, WebSocketApi] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    delivery_streams: list[DeliverySpec] = field(default_factory=list)  # the lake's Firehose streams
    # "<machine>.<event>" -> the state machine ARN and input of a schedule (run on demand locally)
    schedules: dict[str, tuple[str, str]] = field(default_factory=dict)

    def ref(self, logical_id: str) -> Any:
        return self.resolver.ref(logical_id)
