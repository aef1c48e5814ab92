"""Step Functions state machines (with `DefinitionSubstitutions` applied) and their EventBridge
and schedule events."""

from __future__ import annotations

import json
from typing import Any

from devstack.resources.base import CreatorBase


class StateMachineCreators(CreatorBase):
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
        as SAM would create it; a schedule (`Schedule`, `ScheduleV2`) is recorded to be run on demand
        (no clock fires locally); other event types are not supported locally."""
        if event.get("Type") in ("Schedule", "ScheduleV2"):
            schedule_input = (event.get("Properties") or {}).get("Input", "{}")
            self.deployment.schedules[f"{machine}.{event_name}"] = (machine_arn, str(schedule_input))
            return
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
