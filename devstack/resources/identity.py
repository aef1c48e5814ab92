"""Cognito user pools and their app clients."""

from __future__ import annotations

from typing import Any

from devstack.resources.base import CreatorBase


class IdentityCreators(CreatorBase):
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
