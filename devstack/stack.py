"""Start and stop the whole local cloud: moto, resources from the template, in-process Lambda,
event source pollers and the gateway."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
from aiohttp import web

from devstack.authorizer import JwksCache, moto_jwks_fetcher
from devstack.faults import FAULTS
from devstack.faults import routes as fault_routes
from devstack.firehose import FirehoseHub, patch_moto_firehose, set_active_hub
from devstack.gateway import Gateway, GatewayRunner
from devstack.in_process_aws import IN_PROCESS_AWS
from devstack.in_process_aws import install as install_in_process_aws
from devstack.lambdas import LambdaRuntime
from devstack.media import MediaServer
from devstack.moto_patches import (
    _patch_moto_lambda,
    _patch_moto_unnamed_executions,
    patch_moto_action_lookup,
    patch_moto_attribute_values,
    patch_moto_cognito_keys,
    patch_moto_dynamodb_isolation,
    patch_moto_eventbridge_states_targets,
    patch_moto_index_queries,
    patch_moto_item_sizes,
    patch_moto_kinesis_shards,
    patch_moto_projection,
    patch_moto_result_conversion,
    patch_moto_update_expressions,
    patch_moto_value_lookup,
    set_active_runtime,
)
from devstack.pollers import PollerGroup
from devstack.pollers.wakeups import patch_moto_stream_wakeups
from devstack.resources import DEV_PARAMETERS, Deployment, ResourceCreator
from devstack.search_engine import start_search_engine
from devstack.search_proxy import SearchEngineProxy
from devstack.template import load_template
from devstack.webapp import routes as web_player_routes
from devstack.websocket import WebSocketGateway

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parent.parent

# What the local stack sets for itself and its in-process functions.
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "devstack",
    "AWS_SECRET_ACCESS_KEY": "devstack",
    "AWS_SESSION_TOKEN": "devstack",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def patch_moto() -> None:
    """Every correction the devstack makes to moto (devstack/moto_patches.py and the modules it
    names), each idempotent: applied before moto's server starts (`start_moto_server`)."""
    _patch_moto_lambda()
    _patch_moto_unnamed_executions()
    patch_moto_eventbridge_states_targets()
    patch_moto_dynamodb_isolation()
    patch_moto_kinesis_shards()
    patch_moto_index_queries()
    patch_moto_value_lookup()
    patch_moto_update_expressions()
    patch_moto_action_lookup()
    patch_moto_result_conversion()
    patch_moto_item_sizes()
    patch_moto_attribute_values()
    patch_moto_projection()
    patch_moto_cognito_keys()
    patch_moto_firehose()
    patch_moto_stream_wakeups()


def start_moto_server(host: str, port: int) -> Any:
    """moto's server on `host:port` as the devstack runs it: every correction (`patch_moto`), faults
    on demand (devstack/faults.py), and this process's own AWS calls answered in the caller's thread
    instead of over the socket (devstack/in_process_aws.py; `DEVSTACK_AWS_IN_PROCESS=0` turns that off)."""
    from moto.server import ThreadedMotoServer

    patch_moto()
    moto_server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    moto_server.start()
    server = moto_server._server
    assert server is not None
    server.app = FAULTS.wrap(server.app)
    if os.environ.get("DEVSTACK_AWS_IN_PROCESS", "1") != "0":
        install_in_process_aws()
        IN_PROCESS_AWS.serve(f"http://{host}:{port}", server.app)
    return moto_server


@dataclass
class Devstack:
    root: Path = ROOT
    template: Path | None = None
    host: str = "127.0.0.1"
    port: int = 3000
    stack_name: str = "backbeat-local"
    parameters: dict[str, str] = field(default_factory=lambda: dict(DEV_PARAMETERS))
    log: Callable[[str], None] = lambda message: None
    # False until the owner says start-up (seeding, restoring) is done: /health answers "starting".
    ready: bool = True
    # Restores a saved deployment (and its emulators' state) instead of creating the resources.
    restore: Callable[[Devstack], Deployment | None] | None = None
    # Where the search engine comes from (something with a `url` and a `close()`); by default a new
    # osmem-server that exits with this process (`make dev` keeps one warm: `devstack.warm_engine`).
    search_engine: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        self.template = self.template or self.root / "template.yaml"
        self.moto_server: Any = None
        self.moto_endpoint = ""
        self.session: boto3.Session | None = None
        self.deployment: Deployment | None = None
        self.runtime: LambdaRuntime | None = None
        self.pollers: PollerGroup | None = None
        self.gateway: Gateway | None = None
        self.websockets: list[WebSocketGateway] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._gateway_thread: threading.Thread | None = None
        self.search_server: Any = None
        self.firehose: FirehoseHub | None = None
        self.restored = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ lifecycle
    def start(self, pollers: bool = True) -> Devstack:
        self._start_moto()
        assert self.template is not None
        if not self.port:  # the WebSocket API's endpoint names the port, so it is chosen first
            self.port = free_port(self.host)
        restored = self.restore(self) if self.restore is not None else None
        self.restored = restored is not None
        self.deployment = restored or self._create_resources()
        self.log(
            f"{'restored' if self.restored else 'created'} {len(self.deployment.tables)} tables, "
            f"{len(self.deployment.functions)} functions, "
            f"{len(self.deployment.routes)} routes, {len(self.deployment.mappings)} event source mappings, "
            f"{len(self.deployment.websocket_apis)} WebSocket APIs"
        )
        self.runtime = LambdaRuntime(self.deployment.functions)
        set_active_runtime(self.runtime)
        self._start_firehose()
        if pollers:
            self.start_pollers()
        jwks = JwksCache(moto_jwks_fetcher(self.moto_endpoint))
        self.gateway = Gateway(self.deployment, self.runtime, jwks, health_check=self.component_health)
        for index, api in enumerate(self.deployment.websocket_apis.values()):
            sockets = WebSocketGateway(
                api,
                self.runtime,
                self.gateway.executor,
                self.deployment.resolver,
                signing_secrets={LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"]: LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"]},
            )
            self.websockets.append(sockets)
            self.gateway.extra_routes.extend(sockets.routes(at_ws=index == 0))
        if {"MediaSigningSecretArn", "MediaBucketName"} <= set(self.deployment.outputs):
            self.gateway.extra_routes.extend(self._media_server(self.gateway).routes())
            self.gateway.extra_routes.extend(fault_routes())
        self.gateway.extra_routes.extend(web_player_routes())
        self._start_gateway()
        if self._loop is not None and IN_PROCESS_AWS.app is not None:  # devstack/in_process_aws.py
            for sockets in self.websockets:
                for stage in sockets.api.stages:
                    prefix = f"http://{self.host}:{self.port}/{stage}/@connections/"
                    IN_PROCESS_AWS.serve_local(prefix, functools.partial(sockets.answer_in_process, self._loop))
        return self

    def _create_resources(self) -> Deployment:
        assert self.template is not None
        creator = ResourceCreator(
            load_template(self.template),
            self.root,
            self.session,
            self.stack_name,
            {"MediaBaseUrl": f"{self.url}/media", **self.parameters},
            search_endpoint=self.start_search,
            websocket_endpoint=f"ws://{self.host}:{self.port}",
        )
        return creator.create_all()

    def _start_firehose(self) -> None:
        """The template's delivery streams (the event lake): buffering, Parquet, Kinesis sources."""
        assert self.deployment is not None
        if self.deployment.delivery_streams:
            self.firehose = FirehoseHub(self.deployment.delivery_streams, self.session)
            set_active_hub(self.firehose)
            self.firehose.start()

    def _media_server(self, gateway: Gateway) -> MediaServer:
        """`/media/...` from the media bucket, checked with the same key the stream function signs with
        (for templates that deliver media: those with the media bucket and signing secret outputs)."""
        assert self.deployment is not None and self.session is not None
        secret = self.session.client("secretsmanager").get_secret_value(
            SecretId=self.deployment.outputs["MediaSigningSecretArn"]
        )["SecretString"]
        bucket = self.deployment.outputs["MediaBucketName"]
        return MediaServer(self.session.client("s3"), bucket, str(secret).encode(), gateway.executor)

    def _start_moto(self) -> None:
        import logging

        from moto.core.config import default_user_config

        moto_port = free_port(self.host)
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["MOTO_PORT"] = str(moto_port)  # Step Functions' Lambda client reads it
        self.moto_endpoint = f"http://{self.host}:{moto_port}"
        os.environ["AWS_ENDPOINT_URL"] = self.moto_endpoint
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per AWS call
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.moto_server = start_moto_server(self.host, moto_port)
        self.session = boto3.Session(region_name=REGION)

    def start_pollers(self, begin_at_latest: frozenset[str] = frozenset()) -> None:
        """Start the event source mappings; those reading a source in `begin_at_latest` start at
        LATEST (used after a bulk load that was indexed in bulk rather than replayed record by record)."""
        assert self.deployment is not None and self.runtime is not None
        mappings = [
            replace(mapping, starting_position="LATEST") if mapping.source_arn in begin_at_latest else mapping
            for mapping in self.deployment.mappings
        ]
        self.pollers = PollerGroup(mappings, self.runtime, self.session)
        self.pollers.start()

    def start_search(self) -> str:
        """osmem-server (an in-memory OpenSearch-compatible engine) plays OpenSearch Serverless."""
        if self.search_server is None:
            engine = self.search_engine() if self.search_engine else start_search_engine()
            self.search_server = SearchEngineProxy(engine, FAULTS)  # slow or failing on demand
            self.log(f"search engine (osmem-server) on {engine.url}, reached through {self.search_server.url}")
        return str(self.search_server.url)

    def _start_gateway(self) -> None:
        assert self.gateway is not None
        app = self.gateway.build_app()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            runner = GatewayRunner(app, access_log=None, handle_signals=False)
            self._runner = runner
            try:
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
                loop.run_until_complete(site.start())
                self.port = int(runner.addresses[0][1])
            except BaseException as error:  # reported to the starting thread
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._gateway_thread = threading.Thread(target=serve, name="gateway", daemon=True)
        self._gateway_thread.start()
        ready.wait(30)
        if failure:
            raise RuntimeError(f"the gateway could not listen on {self.host}:{self.port}: {failure[0]}")

    def stop_serving(self, settle: float = 0) -> None:
        """Stop taking requests, then (after `settle` seconds for the pollers to pass on what those
        last requests wrote) stop the pollers; the emulators keep running (their state is saved next)."""
        IN_PROCESS_AWS.stop_local()  # posts to sockets go over HTTP again (and find nobody listening)
        if self._loop and self._gateway_thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._gateway_thread.join(10)
            self._gateway_thread = None
        if self.gateway:
            self.gateway.executor.shutdown(wait=False, cancel_futures=True)
        if self.pollers:
            time.sleep(settle)
            self.pollers.stop()
            self.pollers = None
        if self.firehose:  # after the pollers: what they last delivered is in the buffers, written now
            self.firehose.stop()
            set_active_hub(None)
            self.firehose = None

    def stop(self) -> None:
        self.stop_serving()
        if self.moto_server:
            IN_PROCESS_AWS.stop()
            self.moto_server.stop()
        if self.search_server:
            self.search_server.close()
        set_active_runtime(None)

    # ------------------------------------------------------------------ health
    def component_health(self) -> dict[str, str]:
        components = {"moto": "ok", "gateway": "ok", "startup": "ok" if self.ready else "starting"}
        try:
            with urllib.request.urlopen(f"{self.moto_endpoint}/moto-api/", timeout=2):  # noqa: S310
                pass
        except Exception:
            components["moto"] = "unavailable"
        if self.search_server:
            try:
                with urllib.request.urlopen(self.search_server.url, timeout=2):  # noqa: S310
                    components["search"] = "ok"
            except Exception:
                components["search"] = "unavailable"
        if self.pollers:
            components.update(self.pollers.status())
        return components

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except Exception:  # not up yet
                time.sleep(0.1)
        raise TimeoutError(f"{self.url}/health did not answer 200 within {timeout} s")

    def output(self, name: str) -> Any:
        assert self.deployment is not None
        return self.deployment.outputs[name]
