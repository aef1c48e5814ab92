"""Create the resources of `template.yaml` in the moto server and describe how they are wired
(see `creator`); the description itself is in `model`."""

from devstack.resources.creator import DEV_PARAMETERS, IGNORED_TYPES, ResourceCreator, create_dev_resources
from devstack.resources.model import (
    Deployment,
    EventSourceMapping,
    HttpApi,
    HttpRoute,
    JwtAuthorizer,
    WebSocketApi,
)

__all__ = [
    "DEV_PARAMETERS",
    "IGNORED_TYPES",
    "Deployment",
    "EventSourceMapping",
    "HttpApi",
    "HttpRoute",
    "JwtAuthorizer",
    "ResourceCreator",
    "WebSocketApi",
    "create_dev_resources",
]
