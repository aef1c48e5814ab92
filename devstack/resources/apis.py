"""The HTTP API (its JWT authorizers and CORS) and API Gateway v2 WebSocket APIs: integrations,
routes, stages."""

from __future__ import annotations

from typing import Any

from devstack.resources.base import CreatorBase
from devstack.resources.model import HttpApi, JwtAuthorizer, WebSocketApi


class ApiCreators(CreatorBase):
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
