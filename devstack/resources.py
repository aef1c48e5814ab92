"""Create the resources of `template.yaml` in the moto server and describe how they are wired.

moto's own CloudFormation does not apply `DefinitionSubstitutions` nor create API Gateway v2
resources, so the devstack reads the SAM template itself: each supported resource type has a
creator that resolves the resource's properties (deferring it while a reference is still
unresolved) and calls the same AWS API that CloudFormation would.
"""

from __future__ import annotations

import io
import json
import secrets
import string
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.lambdas import FunctionSpec
from devstack.template import Resolver, UnresolvedReference, merged_function_properties

IGNORED_TYPES = {
    "AWS::Logs::LogGroup",
    "AWS::Serverless::LayerVersion",
    "AWS::Lambda::LayerVersion",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::Lambda::Permission",
    "AWS::OpenSearchServerless::SecurityPolicy",
    "AWS::OpenSearchServerless::AccessPolicy",
}


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

    def ref(self, logical_id: str) -> Any:
        return self.resolver.ref(logical_id)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs in-process in the devstack\n")
    return buffer.getvalue()


class ResourceCreator:
    def __init__(
        self,
        template: dict[str, Any],
        root: Path,
        session: Any,
        stack_name: str,
        parameters: dict[str, str],
        search_endpoint: Callable[[], str] | None = None,
        websocket_endpoint: str | None = None,
    ):
        """`websocket_endpoint` is where the local gateway serves WebSocket APIs (``ws://host:port``);
        without it a WebSocket API gets the endpoint it would have in AWS. `search_endpoint` starts the
        engine that stands in for an OpenSearch Serverless collection."""
        self.search_endpoint = search_endpoint
        self.websocket_endpoint = websocket_endpoint
        self.template = template
        self.root = root
        self.session = session
        self.stack_name = stack_name
        region = session.region_name
        self.resolver = Resolver(region=region, account_id="123456789012", stack_name=stack_name)
        for name, spec in (template.get("Parameters") or {}).items():
            value = parameters.get(name, spec.get("Default"))
            self.resolver.refs[name] = value if spec.get("Type") != "CommaDelimitedList" else str(value).split(",")
        self.resolver.evaluate_conditions(template)
        self.deployment = Deployment(resolver=self.resolver)
        self._role_arn: str | None = None
        self._default_authorizers: dict[str, str | None] = {}
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::Serverless::SimpleTable": self._simple_table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SQS::Queue": self._queue,
            "AWS::Kinesis::Stream": self._kinesis_stream,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._user_pool_client,
            "AWS::Serverless::HttpApi": self._http_api,
            "AWS::ApiGatewayV2::Api": self._v2_api,
            "AWS::ApiGatewayV2::Integration": self._v2_integration,
            "AWS::ApiGatewayV2::Route": self._v2_route,
            "AWS::ApiGatewayV2::Stage": self._v2_stage,
            "AWS::ApiGatewayV2::Deployment": self._v2_deployment,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::OpenSearchServerless::Collection": self._search_collection,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::CloudFront::Distribution": self._distribution,
        }

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    # ------------------------------------------------------------------ driver
    def create_all(self) -> Deployment:
        resources: dict[str, dict[str, Any]] = dict(self.template["Resources"])
        pending = {
            name: body
            for name, body in resources.items()
            if not body.get("Condition") or self.resolver.conditions.get(body["Condition"])
        }
        for name, body in list(pending.items()):
            if body["Type"] in IGNORED_TYPES or body["Type"] not in self._creators:
                self.resolver.refs[name] = self.physical_name(name)
                pending.pop(name)
        while pending:
            progressed = False
            last_error: Exception | None = None
            for name, body in list(pending.items()):
                try:
                    self._creators[body["Type"]](name, body.get("Properties") or {})
                except UnresolvedReference as error:
                    last_error = error
                    continue
                pending.pop(name)
                progressed = True
            if not progressed:
                raise RuntimeError(f"cannot resolve {sorted(pending)}: unresolved reference {last_error}")
        for name, output in (self.template.get("Outputs") or {}).items():
            try:
                self.deployment.outputs[name] = self.resolver.resolve(output["Value"])
            except UnresolvedReference:
                continue
        return self.deployment

    def _props(self, properties: dict[str, Any]) -> dict[str, Any]:
        return self.resolver.resolve(properties)

    # ------------------------------------------------------------------ data
    def _table(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        table_name = props.get("TableName") or self.physical_name(name)
        request: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                request[key] = [
                    {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"} for index in props[key]
                ]
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        dynamodb = self.client("dynamodb")
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self.resolver.refs[name] = table_name
        self.resolver.attrs[(name, "Arn")] = description["TableArn"]
        if description.get("LatestStreamArn"):
            self.resolver.attrs[(name, "StreamArn")] = description["LatestStreamArn"]
        self.deployment.tables[name] = table_name

    def _simple_table(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        self._table(
            name,
            {
                "TableName": props.get("TableName") or self.physical_name(name),
                "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
                "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            },
        )

    def _bucket(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        bucket = (props.get("BucketName") or self.physical_name(name)).lower()
        s3 = self.client("s3")
        s3.create_bucket(Bucket=bucket)
        notifications = props.get("NotificationConfiguration") or {}
        if (notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            # moto's S3 then sends the bucket's events to EventBridge (see patch_moto_eventbridge_states_targets)
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        self.resolver.refs[name] = bucket
        self.resolver.attrs[(name, "Arn")] = f"arn:aws:s3:::{bucket}"
        self.resolver.attrs[(name, "DomainName")] = f"{bucket}.s3.amazonaws.com"
        self.resolver.attrs[(name, "RegionalDomainName")] = f"{bucket}.s3.{self.session.region_name}.amazonaws.com"

    def _secret(self, name: str, properties: dict[str, Any]) -> None:
        """A secret in moto; `GenerateSecretString` becomes a random alphanumeric string of its length."""
        props = self._props(properties)
        value = props.get("SecretString")
        if value is None:
            length = int((props.get("GenerateSecretString") or {}).get("PasswordLength", 32))
            alphabet = string.ascii_letters + string.digits
            value = "".join(secrets.choice(alphabet) for _ in range(length))
        created = self.client("secretsmanager").create_secret(
            Name=props.get("Name") or self.physical_name(name), SecretString=value
        )
        self.resolver.refs[name] = created["ARN"]  # Ref of a secret is its ARN
        self.resolver.attrs[(name, "Id")] = created["ARN"]

    def _distribution(self, name: str, properties: dict[str, Any]) -> None:
        """No CloudFront locally (the gateway serves /media); only its domain name, for references."""
        self.resolver.refs[name] = "EDEVSTACK" + name.upper()[:5]
        self.resolver.attrs[(name, "DomainName")] = f"{name.lower()}.cloudfront.devstack.invalid"

    def _queue(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        queue_name = props.get("QueueName") or self.physical_name(name) + (".fifo" if props.get("FifoQueue") else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "MaximumMessageSize",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in props:
                attributes[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.resolver.refs[name] = url
        self.resolver.attrs[(name, "Arn")] = arn
        self.resolver.attrs[(name, "QueueUrl")] = url
        self.resolver.attrs[(name, "QueueName")] = queue_name

    def _kinesis_stream(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        stream_name = props.get("Name") or self.physical_name(name)
        kinesis = self.client("kinesis")
        kinesis.create_stream(StreamName=stream_name, ShardCount=int(props.get("ShardCount", 1)))
        arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamARN"]
        self.resolver.refs[name] = stream_name
        self.resolver.attrs[(name, "Arn")] = arn

    def _search_collection(self, name: str, properties: dict[str, Any]) -> None:
        """An OpenSearch Serverless collection is the devstack's search engine (osmem-server)."""
        if self.search_endpoint is None:
            raise RuntimeError(f"{name}: this devstack has no search engine to stand in for the collection")
        props = self._props(properties)
        collection_id = f"local{abs(hash(name)) % 10**8:08d}"
        region = self.session.region_name
        self.resolver.refs[name] = collection_id
        self.resolver.attrs[(name, "Id")] = collection_id
        self.resolver.attrs[(name, "Arn")] = f"arn:aws:aoss:{region}:123456789012:collection/{collection_id}"
        self.resolver.attrs[(name, "CollectionEndpoint")] = self.search_endpoint()
        self.resolver.attrs[(name, "DashboardEndpoint")] = ""
        self.deployment.search_collections[name] = props.get("Name", name)

    # ------------------------------------------------------------------ identity
    def _user_pool(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        request: dict[str, Any] = {"PoolName": props.get("UserPoolName") or self.physical_name(name)}
        for key in (
            "Policies",
            "UsernameAttributes",
            "AutoVerifiedAttributes",
            "Schema",
            "AccountRecoverySetting",
        ):
            if key in props:
                request[key] = props[key]
        pool = self.client("cognito-idp").create_user_pool(**request)["UserPool"]
        region = self.session.region_name
        self.resolver.refs[name] = pool["Id"]
        self.resolver.attrs[(name, "Arn")] = pool["Arn"]
        self.resolver.attrs[(name, "ProviderName")] = f"cognito-idp.{region}.amazonaws.com/{pool['Id']}"
        self.resolver.attrs[(name, "ProviderURL")] = f"https://cognito-idp.{region}.amazonaws.com/{pool['Id']}"

    def _user_pool_client(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        request: dict[str, Any] = {
            "UserPoolId": props["UserPoolId"],
            "ClientName": props.get("ClientName") or self.physical_name(name),
            "GenerateSecret": bool(props.get("GenerateSecret", False)),
        }
        for key in (
            "ExplicitAuthFlows",
            "AccessTokenValidity",
            "IdTokenValidity",
            "RefreshTokenValidity",
            "TokenValidityUnits",
            "PreventUserExistenceErrors",
        ):
            if key in props:
                request[key] = props[key]
        created = self.client("cognito-idp").create_user_pool_client(**request)["UserPoolClient"]
        self.resolver.refs[name] = created["ClientId"]
        self.resolver.attrs[(name, "ClientSecret")] = created.get("ClientSecret", "")

    # ------------------------------------------------------------------ APIs
    def _http_api(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        authorizers: dict[str, JwtAuthorizer] = {}
        auth = props.get("Auth") or {}
        for auth_name, spec in (auth.get("Authorizers") or {}).items():
            jwt = spec.get("JwtConfiguration") or {}
            authorizers[auth_name] = JwtAuthorizer(
                name=auth_name,
                issuer=jwt["issuer"],
                audience=tuple(jwt.get("audience") or ()),
                identity_source=spec.get("IdentitySource", "$request.header.Authorization"),
            )
        api_id = f"local{abs(hash(name)) % 10**6:06d}"
        self.deployment.apis[name] = HttpApi(
            logical_id=name,
            api_id=api_id,
            authorizers=authorizers,
            cors=props.get("CorsConfiguration"),
        )
        self._default_authorizers[name] = auth.get("DefaultAuthorizer")
        self.resolver.refs[name] = api_id

    def _v2_api(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        if props.get("ProtocolType") != "WEBSOCKET":
            raise ValueError(f"{name}: only WEBSOCKET APIs are supported as AWS::ApiGatewayV2::Api locally")
        api_id = f"ws{abs(hash(name)) % 10**8:08d}"
        region = self.session.region_name
        endpoint = self.websocket_endpoint or f"wss://{api_id}.execute-api.{region}.amazonaws.com"
        self.deployment.websocket_apis[name] = WebSocketApi(
            logical_id=name,
            api_id=api_id,
            route_selection_expression=props.get("RouteSelectionExpression", "$request.body.action"),
            endpoint=endpoint,
        )
        self.resolver.refs[name] = api_id
        self.resolver.attrs[(name, "ApiId")] = api_id
        self.resolver.attrs[(name, "ApiEndpoint")] = endpoint

    def _websocket_api(self, api_id: str) -> WebSocketApi:
        for api in self.deployment.websocket_apis.values():
            if api.api_id == api_id:
                return api
        raise ValueError(f"no WebSocket API with id {api_id}")

    def _v2_integration(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        api = self._websocket_api(props["ApiId"])
        uri = str(props.get("IntegrationUri", ""))
        if props.get("IntegrationType") != "AWS_PROXY" or "/functions/" not in uri:
            raise ValueError(f"{name}: only AWS_PROXY Lambda integrations are supported locally")
        function_arn = uri.split("/functions/", 1)[1].removesuffix("/invocations")
        integration_id = f"int-{name}"
        api.integrations[integration_id] = function_arn
        self.resolver.refs[name] = integration_id

    def _v2_route(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        api = self._websocket_api(props["ApiId"])
        target = str(props.get("Target", ""))
        api.routes[props["RouteKey"]] = target.removeprefix("integrations/")
        self.resolver.refs[name] = f"route-{name}"

    def _v2_stage(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        self._websocket_api(props["ApiId"]).stages.append(props["StageName"])
        self.resolver.refs[name] = props["StageName"]

    def _v2_deployment(self, name: str, properties: dict[str, Any]) -> None:
        self._props(properties)
        self.resolver.refs[name] = f"deployment-{name}"

    # ------------------------------------------------------------------ compute
    def _ensure_role(self) -> str:
        if self._role_arn is None:
            iam = self.client("iam")
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            role = iam.create_role(RoleName=f"{self.stack_name}-devstack", AssumeRolePolicyDocument=json.dumps(trust))
            self._role_arn = role["Role"]["Arn"]
        return self._role_arn

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

    def _state_machine(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        if "DefinitionUri" in props:
            text = (self.root / props["DefinitionUri"]).read_text(encoding="utf-8")
        else:
            text = json.dumps(props["Definition"])
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        machine_name = props.get("Name") or self.physical_name(name)
        created = self.client("stepfunctions").create_state_machine(
            name=machine_name,
            definition=text,
            roleArn=self._ensure_role(),
            type=props.get("Type", "STANDARD"),
        )
        self.resolver.refs[name] = created["stateMachineArn"]
        self.resolver.attrs[(name, "Arn")] = created["stateMachineArn"]
        self.resolver.attrs[(name, "Name")] = machine_name
        self.deployment.state_machines[name] = created["stateMachineArn"]
        for event_name, event in (props.get("Events") or {}).items():
            self._state_machine_event(name, event_name, created["stateMachineArn"], event)

    def _state_machine_event(self, machine: str, event_name: str, machine_arn: str, event: dict[str, Any]) -> None:
        """An `EventBridgeRule` event becomes a rule on the default bus targeting the state machine,
        as SAM would create it; other event types are not supported locally."""
        if event.get("Type") != "EventBridgeRule":
            raise ValueError(f"{machine}.{event_name}: only EventBridgeRule events are supported locally")
        props = event.get("Properties") or {}
        rule_name = f"{self.physical_name(machine)}-{event_name}"[:64]
        events = self.client("events")
        events.put_rule(
            Name=rule_name,
            EventPattern=json.dumps(props["Pattern"]),
            EventBusName=props.get("EventBusName", "default"),
            State="ENABLED" if props.get("State", "ENABLED") == "ENABLED" else "DISABLED",
        )
        target: dict[str, Any] = {"Id": event_name, "Arn": machine_arn, "RoleArn": self._ensure_role()}
        if "Input" in props:
            target["Input"] = props["Input"]
        events.put_targets(Rule=rule_name, EventBusName=props.get("EventBusName", "default"), Targets=[target])
