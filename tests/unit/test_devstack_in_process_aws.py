"""The devstack answers its own AWS calls in the calling thread (devstack/in_process_aws.py) the way
moto's HTTP server would: the same request reaches the application, a failure is a 500 botocore can
retry, and a request to anywhere else is sent as usual."""

from __future__ import annotations

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
