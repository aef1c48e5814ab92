"""The operations section of template.yaml covers everything that can fail quietly: every function
has an Errors and a Throttles alarm, every stream consumer an IteratorAge alarm, every dead-letter
queue a depth alarm, every Kinesis stream an iterator-age alarm, every state machine a failed or
timed-out alarm, every API a server-error-rate and a p99 latency alarm; every alarm notifies the
alarm topic and everything alarmed has its line on the dashboard. A function, queue, stream or state
machine added without them fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.template import load_template
from tests.support import ROOT

Template = dict[str, Any]
STREAM_SOURCES = ("Kinesis", "DynamoDB")


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(ROOT / "template.yaml")


def _of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return _of_type(template, "AWS::CloudWatch::Alarm")


def _metrics(alarm: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, {dimension: value}) of each metric an alarm reads, plain or in math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        yield props["Namespace"], props["MetricName"], _dimensions(props)
    for query in props.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric:
            yield metric["Namespace"], metric["MetricName"], _dimensions(metric)


def _dimensions(spec: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in spec.get("Dimensions") or []}


def _refers_to(value: Any, name: str) -> bool:
    """`value` is Ref name or GetAtt name.<attribute>."""
    if not isinstance(value, dict):
        return False
    if value.get("Ref") == name:
        return True
    target = value.get("Fn::GetAtt")
    if isinstance(target, str):
        target = target.split(".", 1)
    return bool(target) and target[0] == name


def _alarms_on(template: Template, namespace: str, metric: str, dimension: str, name: str) -> list[str]:
    return [
        alarm_name
        for alarm_name, alarm in _alarms(template).items()
        for ns, metric_name, dims in _metrics(alarm)
        if (ns, metric_name) == (namespace, metric) and _refers_to(dims.get(dimension), name)
    ]


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    return _of_type(template, "AWS::Serverless::Function")


def _stream_consumers(template: Template) -> list[str]:
    return [
        name
        for name, body in _functions(template).items()
        if any(event["Type"] in STREAM_SOURCES for event in (body["Properties"].get("Events") or {}).values())
    ]


def _dead_letter_queues(template: Template) -> set[str]:
    """Queues something sends what it gave up on to: an event source's OnFailure destination, a
    queue's redrive target, a function's DeadLetterQueue."""
    queues = set(_of_type(template, "AWS::SQS::Queue"))
    found: set[str] = set()

    def visit(node: Any, failure_path: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                inside = failure_path or key in ("OnFailure", "RedrivePolicy", "DeadLetterQueue", "DeadLetterConfig")
                visit(value, inside)
                if failure_path and key in ("Ref", "Fn::GetAtt"):
                    target = value if isinstance(value, str) else value[0]
                    target = target.split(".", 1)[0]
                    if target in queues:
                        found.add(target)
        elif isinstance(node, list):
            for item in node:
                visit(item, failure_path)

    visit(template["Resources"], False)
    return found


def _assert_alarmed(template: Template, alarms: list[str], what: str, condition: str | None) -> None:
    assert alarms, f"{what} has no alarm"
    for alarm_name in alarms:
        assert template["Resources"][alarm_name].get("Condition") == condition, (
            f"{alarm_name} must have the Condition of what it watches ({condition})"
        )


def test_every_function_has_an_errors_and_a_throttles_alarm(template: Template) -> None:
    assert _functions(template)
    for name, body in _functions(template).items():
        for metric in ("Errors", "Throttles"):
            alarms = _alarms_on(template, "AWS/Lambda", metric, "FunctionName", name)
            _assert_alarmed(template, alarms, f"{name} ({metric})", body.get("Condition"))


def test_every_stream_consumer_has_an_iterator_age_alarm(template: Template) -> None:
    consumers = _stream_consumers(template)
    assert {"FanoutFunction", "PlaysFunction"} <= set(consumers)
    for name in consumers:
        alarms = _alarms_on(template, "AWS/Lambda", "IteratorAge", "FunctionName", name)
        _assert_alarmed(template, alarms, f"{name} (IteratorAge)", template["Resources"][name].get("Condition"))


def test_every_dead_letter_queue_alarms_on_its_first_message(template: Template) -> None:
    queues = _dead_letter_queues(template)
    assert {"PlaysDLQ", "FanoutFailureQueue", "DownloadsDLQ"} <= queues
    assert "DownloadsQueue" not in queues
    for queue in queues:
        alarms = _alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue)
        assert alarms, f"{queue} has no depth alarm"
        for alarm_name in alarms:
            props = template["Resources"][alarm_name]["Properties"]
            assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0), alarm_name


def test_every_kinesis_stream_alarms_on_iterator_age(template: Template) -> None:
    streams = _of_type(template, "AWS::Kinesis::Stream")
    assert "PlaybackEventsStream" in streams
    for name in streams:
        alarms = _alarms_on(template, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", name)
        assert alarms, f"{name} has no iterator-age alarm"


def test_every_state_machine_alarms_on_failed_and_timed_out_executions(template: Template) -> None:
    machines = _of_type(template, "AWS::Serverless::StateMachine")
    assert machines
    for name in machines:
        failed = _alarms_on(template, "AWS/States", "ExecutionsFailed", "StateMachineArn", name)
        timed_out = _alarms_on(template, "AWS/States", "ExecutionsTimedOut", "StateMachineArn", name)
        assert failed and timed_out, f"{name} has no failed/timed-out alarm"


def _apis(template: Template) -> dict[str, tuple[str, str]]:
    """Each API with the metrics that are its server errors and its latency."""
    apis = {name: ("5xx", "Latency") for name in _of_type(template, "AWS::Serverless::HttpApi")}
    for name, body in _of_type(template, "AWS::ApiGatewayV2::Api").items():
        if body["Properties"].get("ProtocolType") == "WEBSOCKET":
            apis[name] = ("ExecutionError", "IntegrationLatency")
    return apis


def test_every_api_alarms_on_its_server_error_rate_and_p99_latency(template: Template) -> None:
    apis = _apis(template)
    assert {"HttpApi", "WebSocketApi"} <= set(apis)
    for name, (errors, latency) in apis.items():
        rate = _alarms_on(template, "AWS/ApiGateway", errors, "ApiId", name)
        assert rate, f"{name} has no {errors} alarm"
        for alarm_name in rate:
            props = template["Resources"][alarm_name]["Properties"]
            expressions = [query["Expression"] for query in props["Metrics"] if "Expression" in query]
            assert any("/" in expression for expression in expressions), f"{alarm_name} is not a rate"
        slow = _alarms_on(template, "AWS/ApiGateway", latency, "ApiId", name)
        assert slow, f"{name} has no {latency} alarm"
        assert all(template["Resources"][a]["Properties"].get("ExtendedStatistic") == "p99" for a in slow)


def test_every_alarm_notifies_the_alarm_topic(template: Template) -> None:
    assert template["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    for name, alarm in _alarms(template).items():
        assert {"Ref": "AlarmTopic"} in alarm["Properties"].get("AlarmActions", []), name


def _dashboard_references(template: Template) -> set[str]:
    """The logical ids the dashboard's body names (`${Name}`, `${Name.Attribute}`, or a variable
    whose value is a Ref or GetAtt), after checking that the body is a JSON dashboard."""
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    text, variables = (body, {}) if isinstance(body, str) else body
    parsed = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    assert parsed["widgets"]
    named = {match.split(".", 1)[0] for match in re.findall(r"\$\{([^}]+)\}", text)}
    for variable, value in variables.items():
        if variable in named:
            named.discard(variable)
            named |= {name for name in template["Resources"] if _mentions(value, name)}
    return named


def _mentions(value: Any, name: str) -> bool:
    if _refers_to(value, name):
        return True
    if isinstance(value, dict):
        return any(_mentions(item, name) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, name) for item in value)
    return False


def test_everything_alarmed_is_on_the_dashboard(template: Template) -> None:
    shown = _dashboard_references(template)
    expected = (
        set(_functions(template))
        | _dead_letter_queues(template)
        | set(_of_type(template, "AWS::Kinesis::Stream"))
        | set(_of_type(template, "AWS::Serverless::StateMachine"))
        | set(_apis(template))
    )
    assert expected - shown == set(), "not on the dashboard"


def test_the_checks_notice_a_function_without_alarms(template: Template) -> None:
    """A new function with neither alarms nor a dashboard line is caught by both checks."""
    grown = json.loads(json.dumps(template))
    grown["Resources"]["NewFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Handler": "app.lambda_handler", "CodeUri": "functions/new/"},
    }
    with pytest.raises(AssertionError, match="NewFunction"):
        test_every_function_has_an_errors_and_a_throttles_alarm(grown)
    with pytest.raises(AssertionError, match="NewFunction"):
        test_everything_alarmed_is_on_the_dashboard(grown)
