"""The state every resource creator shares (the template, the resolver, the deployment being
described, the boto3 session) and the helpers they all use."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.resources.model import Deployment
from devstack.template import Resolver


class CreatorBase:
    """Attributes and helpers shared by the per-service creators (set up by `ResourceCreator`)."""

    template: dict[str, Any]
    root: Path
    session: Any
    stack_name: str
    resolver: Resolver
    deployment: Deployment
    search_endpoint: Callable[[], str] | None
    websocket_endpoint: str | None
    _role_arn: str | None
    _default_authorizers: dict[str, str | None]

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def _props(self, properties: dict[str, Any]) -> dict[str, Any]:
        return self.resolver.resolve(properties)

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
