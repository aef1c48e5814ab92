"""The devstack answers its own AWS calls in the calling thread (devstack/in_process_aws.py) the way
moto's HTTP server would: the same request reaches the application, a failure is a 500 botocore can
retry, and a request to anywhere else is sent as usual."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from werkzeug.wrappers import Request

from devstack.in_process_aws import InProcessAws

ENDPOINT = "http://127.0.0.1:4566"


def _request(url: str, body: bytes, **headers: str) -> AWSPreparedRequest:
    return AWSPreparedRequest(method="POST", url=url, headers=headers, body=body, stream_output=False)


def test_the_application_gets_the_whole_body_even_of_a_chunked_request() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["body"] = Request(environ).get_data()  # as moto's Flask application reads it
        seen["path"], seen["query"] = environ["PATH_INFO"], environ["QUERY_STRING"]
        start_response("200 OK", [("Content-Type", "application/json"), ("x-amz-crc32", "1")])
        return [b'{"ok": ', b"true}"]

    aws = InProcessAws()
    aws.serve(ENDPOINT, app)
    answer = aws(_request(f"{ENDPOINT}/bucket/key?uploads", b"abc" * 1000, **{"Transfer-Encoding": "chunked"}))
    assert answer is not None and answer.status_code == 200
    assert answer.content == b'{"ok": true}' and answer.headers["x-amz-crc32"] == "1"
    assert seen == {"body": b"abc" * 1000, "path": "/bucket/key", "query": "uploads"}


def test_a_failure_in_the_application_is_a_500_and_other_addresses_are_left_alone() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("moto could not")

    aws = InProcessAws()
    aws.serve(ENDPOINT, app)
    answer = aws(_request(f"{ENDPOINT}/", b"{}"))
    assert answer is not None and answer.status_code == 500
    assert aws(_request("http://127.0.0.1:9/", b"{}")) is None  # another server: sent over HTTP
    aws.stop()
    assert aws(_request(f"{ENDPOINT}/", b"{}")) is None  # a stopped stack: nothing answers in process


def test_dynamodb_calls_answered_directly_are_answered_as_the_server_answers_them() -> None:
    """The devstack hands DynamoDB's calls to moto's DynamoDB handler directly (`moto_dynamodb`) instead
    of through the server's WSGI application: the same answers, errors included, and the planned
    faults (devstack/faults.py) still fire."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws
    from moto.server import DomainDispatcherApplication, create_backend_app

    from devstack.faults import Faults, FaultPlan
    from devstack.in_process_aws import moto_dynamodb

    def client(aws: InProcessAws) -> Any:
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        once = Config(retries={"mode": "standard", "max_attempts": 1})
        dynamodb = session.client("dynamodb", endpoint_url=ENDPOINT, config=once)
        dynamodb.meta.events.register("before-send", aws)
        return dynamodb

    def calls(dynamodb: Any, table: str) -> list[Any]:
        """A table's life, each answer without its request id (or the error's code, message and reasons)."""
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
        attributes = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")]
        item = {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "1.50"}, "m": {"M": {"l": {"L": [{"BOOL": True}]}}}}
        steps = [
            lambda: dynamodb.create_table(
                TableName=table, KeySchema=keys, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
            )["TableDescription"]["KeySchema"],
            lambda: dynamodb.put_item(TableName=table, Item=item),
            lambda: dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)"),
            lambda: dynamodb.update_item(
                TableName=table,
                Key={"pk": {"S": "p"}, "sk": {"S": "1"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            ),
            lambda: dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": "2"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                            "ConditionExpression": "n = :zero",
                            "ExpressionAttributeValues": {":zero": {"N": "0"}},
                        }
                    },
                ]
            ),
            lambda: dynamodb.query(
                TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
            ),
            lambda: dynamodb.batch_get_item(RequestItems={table: {"Keys": [{"pk": {"S": "p"}, "sk": {"S": "1"}}]}}),
            lambda: dynamodb.get_item(TableName="no-such-table", Key={"pk": {"S": "p"}}),
        ]
        answers: list[Any] = []
        for step in steps:
            try:
                answer = step()
            except dynamodb.exceptions.ClientError as error:
                answer = {"error": error.response["Error"], "reasons": error.response.get("CancellationReasons")}
            if isinstance(answer, dict):
                answer.pop("ResponseMetadata", None)
            answers.append(answer)
        return json.loads(json.dumps(answers, default=str).replace(table, "<table>"))

    faults = Faults()
    with mock_aws():
        app = faults.wrap(DomainDispatcherApplication(create_backend_app))
        through_app, direct = InProcessAws(), InProcessAws()
        through_app.serve(ENDPOINT, app)
        direct.serve(ENDPOINT, app, {"DynamoDB_20120810.": moto_dynamodb(faults)})
        expected = calls(client(through_app), "by-the-server")
        got = calls(client(direct), "answered-directly")
        assert got == expected
        assert [step.get("error", {}).get("Code") for step in got if isinstance(step, dict)] == [
            None,
            "ConditionalCheckFailedException",
            None,
            "TransactionCanceledException",
            None,
            None,
            "ResourceNotFoundException",
        ]
        faults.use(FaultPlan(dynamodbThrottle=1.0))
        dynamodb = client(direct)
        try:
            dynamodb.put_item(TableName="answered-directly", Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
        except dynamodb.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        else:
            raise AssertionError("the planned throttle did not fire")
        assert faults.status()["injected"]["dynamodbThrottle"] >= 1
