"""Create the resources of `template.yaml` in the moto server and describe how they are wired.

moto's own CloudFormation does not apply `DefinitionSubstitutions` nor create API Gateway v2
resources, so the devstack reads the SAM template itself: each supported resource type has a
creator that resolves the resource's properties (deferring it while a reference is still
unresolved) and calls the same AWS API that CloudFormation would.

Each service's creators live in a module of their own (`storage`, `identity`, `apis`, `functions`,
`state_machines`); `ResourceCreator` combines them with the driver that orders creation by what is
resolved; the data they describe the stack with is in `model`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from devstack.resources.apis import ApiCreators
from devstack.resources.base import CreatorBase
from devstack.resources.functions import FunctionCreators
from devstack.resources.identity import IdentityCreators
from devstack.resources.lake import LakeCreators
from devstack.resources.model import Deployment
from devstack.resources.state_machines import StateMachineCreators
from devstack.resources.storage import StorageCreators
from devstack.template import Resolver, UnresolvedReference, load_template

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
# The template's parameters for a dev stage: the devstack's, the unit tests', the OpenAPI export's, the benchmarks'.
# The lake: DuckDB runs its SQL (no Athena locally) and Firehose buffers briefly, so that a play is
# queryable seconds after it is reported.
DEV_PARAMETERS = {
    "Stage": "dev",
    "AutoConfirmSignup": "true",
    "Transcoder": "ffmpeg",
    "LakeQueryEngine": "duckdb",
    "LakeBufferSeconds": "2",
    "RecsTrainer": "lambda",
}


class ResourceCreator(
    StorageCreators,
    IdentityCreators,
    ApiCreators,
    FunctionCreators,
    StateMachineCreators,
    LakeCreators,
    CreatorBase,
):
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
            "AWS::KMS::Key": self._kms_key,
            "AWS::CloudFront::Distribution": self._distribution,
            "AWS::Glue::Database": self._glue_database,
            "AWS::Glue::Table": self._glue_table,
            "AWS::Athena::WorkGroup": self._athena_workgroup,
            "AWS::KinesisFirehose::DeliveryStream": self._delivery_stream,
        }

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
                if body["Type"] == "AWS::IAM::Role":  # not created locally, but others name its ARN
                    self.resolver.attrs[(name, "Arn")] = f"arn:aws:iam::123456789012:role/{self.physical_name(name)}"
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


def create_dev_resources(root: Path, stack_name: str, search_endpoint: Callable[[], str]) -> Deployment:
    """Every resource of `root`/template.yaml under `DEV_PARAMETERS`, created in whatever AWS the
    environment points boto3 at (a moto server, or moto's in-memory mock), without a WebSocket gateway."""
    return ResourceCreator(
        load_template(root / "template.yaml"),
        root,
        boto3.Session(region_name="us-east-1"),
        stack_name,
        dict(DEV_PARAMETERS),
        search_endpoint=search_endpoint,
    ).create_all()
