"""Least privilege, read from template.yaml: every statement each function's role is given names only
resources of its own, with actions made for them.

A function's own resources are the ones its code is pointed at: those its environment variables name,
those its event sources name (the stream it reads, the queue its failures go to), and, for a function
a state machine runs, what starts that state machine (the bucket whose uploads it encodes). Every
policy is read (SAM policy templates expanded to what SAM grants, inline statements as written,
both branches of an `Fn::If`) and each grant must:
- name a resource of the template that the function owns (never `*`, except for the actions AWS only
  grants on `*`, below), through `Ref`, `Fn::GetAtt` or `Fn::Sub` (`${Table.Arn}/index/*` is the table);
- use actions of that resource's own service, from the data-plane actions a function needs (reading
  and writing items, objects, messages, secrets), never a control-plane one (creating or deleting
  tables, changing policies) and never a wildcard;
- come from a statement or policy template this test can read (no managed policies, no NotAction).
Nothing here names a function or a table: a new function, table or route is checked as it lands.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.template import load_template, merged_function_properties
from tests.support import ROOT

# The actions AWS grants only on "*" (they act on no resource of the template).
STAR_ONLY_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",  # X-Ray has no resource-level permissions
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",  # metrics by API (Powertools writes EMF to the logs instead)
        "mediaconvert:DescribeEndpoints",
    }
)

# Per resource type: its service and the data-plane actions a function may be given on it.
DATA_PLANE: dict[str, tuple[str, frozenset[str]]] = {
    kind: (service, frozenset(verbs.split()))
    for kind, service, verbs in (
        (
            "AWS::DynamoDB::Table",
            "dynamodb",
            "GetItem BatchGetItem Query Scan PutItem UpdateItem DeleteItem BatchWriteItem ConditionCheckItem "
            "DescribeTable PartiQLSelect PartiQLInsert PartiQLUpdate PartiQLDelete "
            "DescribeStream GetRecords GetShardIterator ListStreams",
        ),
        (
            "AWS::S3::Bucket",
            "s3",
            "GetObject GetObjectVersion PutObject DeleteObject ListBucket GetBucketLocation "
            "AbortMultipartUpload ListMultipartUploadParts",
        ),
        (
            "AWS::SQS::Queue",
            "sqs",
            "SendMessage SendMessageBatch ReceiveMessage DeleteMessage DeleteMessageBatch "
            "ChangeMessageVisibility ChangeMessageVisibilityBatch GetQueueAttributes GetQueueUrl",
        ),
        ("AWS::SecretsManager::Secret", "secretsmanager", "GetSecretValue DescribeSecret"),
        ("AWS::KMS::Key", "kms", "Encrypt Decrypt GenerateDataKey Sign Verify GetPublicKey DescribeKey"),
        (
            "AWS::Cognito::UserPool",
            "cognito-idp",
            "DescribeUserPool AdminConfirmSignUp AdminGetUser AdminUpdateUserAttributes AdminInitiateAuth ListUsers",
        ),
        ("AWS::OpenSearchServerless::Collection", "aoss", "APIAccessAll"),
        ("AWS::ApiGatewayV2::Api", "execute-api", "ManageConnections Invoke"),
        ("AWS::Serverless::Function", "lambda", "InvokeFunction"),
        ("AWS::Serverless::StateMachine", "states", "StartExecution DescribeExecution"),
        (
            "AWS::Kinesis::Stream",
            "kinesis",
            "PutRecord PutRecords GetRecords GetShardIterator DescribeStream DescribeStreamSummary ListShards",
        ),
        ("AWS::Events::EventBus", "events", "PutEvents"),
        ("AWS::KinesisFirehose::DeliveryStream", "firehose", "PutRecord PutRecordBatch"),
        ("AWS::Glue::Database", "glue", "GetDatabase GetTable GetTables GetPartition GetPartitions"),
        ("AWS::Glue::Table", "glue", "GetTable GetPartition GetPartitions"),
        ("AWS::Athena::WorkGroup", "athena", "StartQueryExecution GetQueryExecution GetQueryResults"),
    )
}

# Glue authorises reading a table on the table, its database and the account's Data Catalog; the
# catalog's ARN names no resource of the template and may be given Glue's read actions only.
GLUE_CATALOG = "the account's Glue Data Catalog"
GLUE_CATALOG_ARN = re.compile(r"arn:\$\{AWS::Partition\}:glue:\$\{AWS::Region\}:\$\{AWS::AccountId\}:catalog")
GLUE_CATALOG_ACTIONS = frozenset({"glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"})


def _actions(service: str, verbs: str) -> tuple[str, ...]:
    return tuple(f"{service}:{verb}" for verb in verbs.split())


# SAM policy templates: the parameter naming the resource, and the actions SAM grants on it
# (from SAM's policy_templates.json; `sqs:SendMessage*` written out as the two actions it matches).
SAM_POLICY_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "DynamoDBReadPolicy": (
        "TableName",
        _actions("dynamodb", "GetItem Scan Query BatchGetItem DescribeTable ConditionCheckItem PartiQLSelect"),
    ),
    "DynamoDBWritePolicy": (
        "TableName",
        _actions("dynamodb", "PutItem UpdateItem BatchWriteItem PartiQLInsert PartiQLUpdate"),
    ),
    "DynamoDBCrudPolicy": (
        "TableName",
        _actions(
            "dynamodb",
            "GetItem DeleteItem PutItem Scan Query UpdateItem BatchWriteItem BatchGetItem DescribeTable "
            "ConditionCheckItem PartiQLSelect PartiQLInsert PartiQLUpdate PartiQLDelete",
        ),
    ),
    "DynamoDBStreamReadPolicy": (
        "TableName",
        _actions("dynamodb", "DescribeStream GetRecords GetShardIterator ListStreams"),
    ),
    "SQSSendMessagePolicy": ("QueueName", _actions("sqs", "SendMessage SendMessageBatch")),
    "SQSPollerPolicy": (
        "QueueName",
        _actions(
            "sqs",
            "ChangeMessageVisibility ChangeMessageVisibilityBatch DeleteMessage DeleteMessageBatch "
            "GetQueueAttributes ReceiveMessage",
        ),
    ),
    "S3ReadPolicy": (
        "BucketName",
        _actions("s3", "GetObject ListBucket GetBucketLocation GetObjectVersion GetLifecycleConfiguration"),
    ),
    "S3WritePolicy": ("BucketName", _actions("s3", "PutObject PutObjectAcl PutLifecycleConfiguration")),
    "LambdaInvokePolicy": ("FunctionName", _actions("lambda", "InvokeFunction")),
    "AWSSecretsManagerGetSecretValuePolicy": ("SecretArn", _actions("secretsmanager", "GetSecretValue")),
    "StepFunctionsExecutionPolicy": ("StateMachineName", _actions("states", "StartExecution")),
    "EventBridgePutEventsPolicy": ("EventBusName", _actions("events", "PutEvents")),
}

STAR = "*"


@dataclass(frozen=True)
class Grant:
    """One Allow: its actions on its resources (logical ids, or STAR, or the raw value it could not
    resolve to a resource of the template), and where it came from."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    origin: str


def _names_in(value: Any, template: dict[str, Any]) -> set[str]:
    """The template resources a value refers to, through Ref, GetAtt and Sub, in every If branch."""
    resources = template["Resources"]
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _names_in(item, template)
    elif isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and argument in resources:
                found.add(argument)
            elif key == "Fn::GetAtt":
                name = argument[0] if isinstance(argument, list) else argument.split(".", 1)[0]
                if name in resources:
                    found.add(name)
            elif key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                for variable in re.findall(r"\$\{([^}!]+)\}", text):
                    name = variable.split(".", 1)[0]
                    if name in resources and name not in variables:
                        found.add(name)
                found |= _names_in(variables, template)
            elif key == "Fn::If":
                found |= _names_in(argument[1:], template)
            else:
                found |= _names_in(argument, template)
    return found


def _branches(value: Any) -> Iterator[Any]:
    """A policy entry, or each branch of an Fn::If around it (AWS::NoValue drops out)."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif not (isinstance(value, dict) and value.get("Ref") == "AWS::NoValue"):
        yield value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_names(value: Any, template: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for branch in _branches(value):
        for item in _as_list(branch):
            for option in _branches(item):
                if option == STAR:
                    names.append(STAR)
                elif isinstance(option, dict) and GLUE_CATALOG_ARN.fullmatch(str(option.get("Fn::Sub"))):
                    names.append(GLUE_CATALOG)
                else:
                    named = _names_in(option, template)
                    names += sorted(named) if named else [f"unresolved {option!r}"]
    return tuple(names)


def grants_of(policies: list[Any], template: dict[str, Any]) -> tuple[list[Grant], list[str]]:
    """Every Allow a Policies list gives, and the entries this test cannot read (problems)."""
    grants: list[Grant] = []
    problems: list[str] = []
    for entry in policies or []:
        for policy in _branches(entry):
            if isinstance(policy, str):
                problems.append(f"managed policy {policy!r}: its grants are not in the template")
                continue
            for name, argument in policy.items():
                if name == "Statement":
                    for statement in _as_list(argument):
                        for option in _branches(statement):
                            if option.get("Effect") != "Allow":
                                continue
                            if {"NotAction", "NotResource"} & set(option):
                                problems.append(f"statement with NotAction/NotResource: {option}")
                                continue
                            actions = tuple(str(a) for a in _as_list(option.get("Action", [])))
                            resources = _resource_names(option.get("Resource", []), template)
                            grants.append(Grant(actions, resources, f"statement {actions}"))
                elif name in SAM_POLICY_TEMPLATES:
                    parameter, actions = SAM_POLICY_TEMPLATES[name]
                    resources = _resource_names((argument or {}).get(parameter), template)
                    grants.append(Grant(actions, resources, name))
                else:
                    problems.append(
                        f"policy {name!r}: unknown to this test (add what it grants to SAM_POLICY_TEMPLATES)"
                    )
    return grants, problems


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: merged_function_properties(template, body["Properties"])
        for name, body in template["Resources"].items()
        if body["Type"] == "AWS::Serverless::Function"
    }


def own_resources(function: str, template: dict[str, Any]) -> set[str]:
    """What the function's code is pointed at: its environment, its event sources, and what starts a
    state machine that runs it (its input names that resource)."""
    props = _functions(template)[function]
    owned = _names_in((props.get("Environment") or {}).get("Variables") or {}, template)
    owned |= _names_in(props.get("Events") or {}, template)
    for body in template["Resources"].values():
        if body["Type"] == "AWS::Serverless::StateMachine":
            machine = body["Properties"]
            if function in _names_in(machine.get("DefinitionSubstitutions") or {}, template):
                owned |= _names_in(machine.get("Events") or {}, template)
    owned.discard(function)
    return owned


def violations(template: dict[str, Any]) -> list[str]:
    """Every grant, in every function, that is broader than least privilege allows."""
    found: list[str] = []
    resources = template["Resources"]
    for function, props in _functions(template).items():
        grants, problems = grants_of(props.get("Policies") or [], template)
        found += [f"{function}: {problem}" for problem in problems]
        owned = own_resources(function, template)
        for grant in grants:
            where = f"{function} ({grant.origin})"
            if not grant.actions or not grant.resources:
                found.append(f"{where}: a statement without actions or resources")
            for action in grant.actions:
                if "*" in action:
                    found.append(f"{where}: wildcard action {action!r}")
            for resource in grant.resources:
                if resource == STAR:
                    broad = [action for action in grant.actions if action not in STAR_ONLY_ACTIONS]
                    if broad:
                        found.append(f"{where}: {broad} on '*' (only {sorted(STAR_ONLY_ACTIONS)} may be)")
                    continue
                if resource == GLUE_CATALOG:
                    broad = [action for action in grant.actions if action not in GLUE_CATALOG_ACTIONS]
                    if broad:
                        found.append(f"{where}: {broad} on the Glue Data Catalog (only {sorted(GLUE_CATALOG_ACTIONS)})")
                    continue
                if resource not in resources:
                    found.append(f"{where}: names no resource of the template: {resource}")
                    continue
                if resource not in owned:
                    found.append(f"{where}: {resource} is not its own (it uses {sorted(owned)})")
                kind = resources[resource]["Type"]
                if kind not in DATA_PLANE:
                    found.append(f"{where}: {resource} is a {kind}, unknown to this test (add it to DATA_PLANE)")
                    continue
                service, allowed = DATA_PLANE[kind]
                for action in grant.actions:
                    prefix, _, verb = action.partition(":")
                    if "*" not in action and (prefix != service or verb not in allowed):
                        found.append(f"{where}: {action} is not a {service} data-plane action for {resource}")
    return found


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_every_function_gets_only_its_own_resources_and_actions(template: dict[str, Any]) -> None:
    assert violations(template) == []


def test_every_function_has_a_policy_and_owns_what_it_is_granted(template: dict[str, Any]) -> None:
    """The check above reads real grants: each function has some, on resources it owns."""
    for function, props in _functions(template).items():
        grants, _ = grants_of(props.get("Policies") or [], template)
        assert grants, f"{function} has no policy"
        named = {resource for grant in grants for resource in grant.resources}
        assert named <= own_resources(function, template) | {STAR, GLUE_CATALOG}, function


# --- the check fails on over-broad grants (each added to a copy of the template) -------------------


@dataclass(frozen=True)
class Subject:
    """A function that uses a DynamoDB table, and a table it does not use."""

    function: str
    own_table: str
    foreign_table: str


def _subject(template: dict[str, Any]) -> Subject:
    tables = [name for name, body in template["Resources"].items() if body["Type"] == "AWS::DynamoDB::Table"]
    for function in _functions(template):
        owned = own_resources(function, template)
        mine = [table for table in tables if table in owned]
        others = [table for table in tables if table not in owned]
        if mine and others:
            return Subject(function, mine[0], others[0])
    raise AssertionError("no function uses one table and not another")


def _arn(table: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [table, "Arn"]}


def _statement(action: Any, resource: Any) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


# Each over-broad grant, and the words of the violation it must raise.
OVER_BROAD: dict[str, tuple[Callable[[Subject], Any], str]] = {
    "every action": (lambda s: _statement("*", _arn(s.own_table)), "wildcard action '*'"),
    "a service wildcard": (lambda s: _statement("dynamodb:*", _arn(s.own_table)), "wildcard action 'dynamodb:*'"),
    "a verb wildcard": (lambda s: _statement("dynamodb:Get*", _arn(s.own_table)), "wildcard action"),
    "every resource": (lambda s: _statement("dynamodb:GetItem", "*"), "['dynamodb:GetItem'] on '*'"),
    "another function's table": (
        lambda s: _statement("dynamodb:GetItem", _arn(s.foreign_table)),
        "is not its own",
    ),
    "another function's table index": (
        lambda s: _statement("dynamodb:Query", {"Fn::Sub": f"${{{s.foreign_table}.Arn}}/index/*"}),
        "is not its own",
    ),
    "a policy template on another table": (
        lambda s: {"DynamoDBCrudPolicy": {"TableName": {"Ref": s.foreign_table}}},
        "(DynamoDBCrudPolicy): ",
    ),
    "a control-plane action": (
        lambda s: _statement("dynamodb:DeleteTable", _arn(s.own_table)),
        "dynamodb:DeleteTable is not a dynamodb data-plane action",
    ),
    "another service's action": (
        lambda s: _statement("sqs:SendMessage", _arn(s.own_table)),
        "sqs:SendMessage is not a dynamodb data-plane action",
    ),
    "a hard-coded ARN": (
        lambda s: _statement("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/x"),
        "names no resource of the template",
    ),
    "a managed policy": (lambda s: "AmazonDynamoDBFullAccess", "managed policy 'AmazonDynamoDBFullAccess'"),
    "a policy template unknown to the test": (
        lambda s: {"AmazonS3FullAccessPolicy": {"BucketName": "x"}},
        "unknown to this test",
    ),
    "an If branch": (
        lambda s: {"Fn::If": ["SomeCondition", _statement("dynamodb:*", "*"), {"Ref": "AWS::NoValue"}]},
        "wildcard action 'dynamodb:*'",
    ),
    "NotResource": (
        lambda s: {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": _arn(s.own_table)}]},
        "NotAction/NotResource",
    ),
}


@pytest.mark.parametrize("grant", list(OVER_BROAD))
def test_an_over_broad_grant_fails_the_check(template: dict[str, Any], grant: str) -> None:
    subject = _subject(template)
    make, expected = OVER_BROAD[grant]
    modified = copy.deepcopy(template)
    modified["Resources"][subject.function]["Properties"].setdefault("Policies", []).append(make(subject))
    found = violations(modified)
    assert any(line.startswith(subject.function) and expected in line for line in found), found


def test_what_aws_grants_only_on_star_passes(template: dict[str, Any]) -> None:
    subject = _subject(template)
    modified = copy.deepcopy(template)
    policies = modified["Resources"][subject.function]["Properties"].setdefault("Policies", [])
    policies.append(_statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"))
    policies.append({"DynamoDBReadPolicy": {"TableName": {"Ref": subject.own_table}}})
    assert violations(modified) == []
