"""Lambda functions (run in-process; moto holds a placeholder) and their events: HTTP API routes
and event source mappings."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from devstack.lambdas import FunctionSpec
from devstack.resources.base import CreatorBase
from devstack.resources.model import EventSourceMapping, HttpApi, HttpRoute
from devstack.template import merged_function_properties


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs in-process in the devstack\n")
    return buffer.getvalue()


class FunctionCreators(CreatorBase):
    def _function(self, name: str, properties: dict[str, Any]) -> None:
        merged = merged_function_properties(self.template, properties)
        # Events are wired below with their own resolution; the rest resolves now.
        events = merged.pop("Events", {}) or {}
        resolved_events = self.resolver.resolve(events)  # raises (defers) before anything is created
        props = self._props({k: v for k, v in merged.items() if k not in ("Policies", "Layers")})
        function_name = props.get("FunctionName") or self.physical_name(name)
        environment = {k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
        spec = FunctionSpec(
            logical_id=name,
            name=function_name,
            code_dir=(self.root / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            environment=environment,
            timeout_seconds=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            region=self.session.region_name,
        )
        created = self.client("lambda").create_function(
            FunctionName=function_name,
            Runtime=props.get("Runtime", "python3.11"),
            Role=self._ensure_role(),
            Handler=props["Handler"],
            Code={"ZipFile": _dummy_zip()},
            Timeout=spec.timeout_seconds,
            MemorySize=spec.memory_mb,
            Environment={"Variables": environment},
        )
        self.deployment.functions.append(spec)
        self.resolver.refs[name] = function_name
        self.resolver.attrs[(name, "Arn")] = created["FunctionArn"]
        for event in resolved_events.values():
            self._wire_event(name, event)

    def _wire_event(self, function: str, event: dict[str, Any]) -> None:
        kind = event.get("Type")
        props = event.get("Properties") or {}
        if kind == "HttpApi":
            api_id = props.get("ApiId") or "ServerlessHttpApi"
            api = next((a.logical_id for a in self.deployment.apis.values() if a.api_id == api_id), api_id)
            if api not in self.deployment.apis:
                self.deployment.apis[api] = HttpApi(api, api, {}, None)
            auth = (props.get("Auth") or {}).get("Authorizer") or self._default_authorizers.get(api)
            self.deployment.routes.append(
                HttpRoute(
                    api=api,
                    method=str(props.get("Method", "ANY")).upper(),
                    path=props.get("Path", "$default"),
                    function=function,
                    authorizer=None if auth in (None, "NONE") else auth,
                )
            )
        elif kind in ("DynamoDB", "Kinesis", "SQS"):
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            source = str(props.get("Stream") or props.get("Queue") or "")
            if not source:
                raise ValueError(f"{function}: a {kind} event needs its Stream or Queue")
            self.deployment.mappings.append(
                EventSourceMapping(
                    function=function,
                    kind=kind.lower(),
                    source_arn=source,
                    batch_size=int(props.get("BatchSize", 10 if kind == "SQS" else 100)),
                    starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    on_failure_arn=destination,
                    queue_url=self._queue_url_for(source) if kind == "SQS" else None,
                    bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                )
            )

    def _queue_url_for(self, queue_arn: str) -> str:
        queue_name = queue_arn.rsplit(":", 1)[-1]
        return str(self.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"])
