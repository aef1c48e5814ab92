"""The HTTP API fuzzed from its own OpenAPI document (schemathesis), against the session devstack.

The document comes from `GET /openapi.json` (what scripts/openapi.py generates); every operation in
it is called with generated inputs, valid and invalid, as a signed-in listener. Every answer must be
no 5xx, a status the operation declares, in its declared content type, with a body that matches its
declared schema; a route that ignores a missing or wrong token fails too; and no request may take
longer than REQUEST_TIMEOUT (a hang fails the run instead of stalling it). A stateful run follows the
document's `links` (create a playlist, then read, edit, add to, reorder and delete it). Hand-made
hostile requests (deep nesting, wrong content types, bodies over 10 MB, bytes that are not UTF-8,
lines over API Gateway's quota) go through the gateway too: JSON answers, never a 5xx.

`make test` runs a bounded, derandomized sample (FUZZ_EXAMPLES per operation, repeatable in CI);
`make fuzz` runs many more examples with a random seed it prints (BACKBEAT_FUZZ_EXAMPLES,
BACKBEAT_FUZZ_SEED=<n> replays a run, BACKBEAT_FUZZ_STATEFUL_STEPS). See decision 45 for what is
fuzzed and what is held back from the shared stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from scripts.openapi import DOCUMENT
from tests.conftest import RunningStack

pytestmark = pytest.mark.timeout(900)

FUZZ_EXAMPLES = int(os.environ.get("BACKBEAT_FUZZ_EXAMPLES") or 12)  # per operation, in the fuzzing phase
STATEFUL_SCENARIOS = int(os.environ.get("BACKBEAT_FUZZ_STATEFUL_SCENARIOS") or 6)
STATEFUL_STEPS = int(os.environ.get("BACKBEAT_FUZZ_STATEFUL_STEPS") or 8)
RANDOM_SEED = os.environ.get("BACKBEAT_FUZZ_SEED", "")  # unset: derandomized; "random" or a number: seeded
REQUEST_TIMEOUT = 35.0  # s: above a function's 29 s (the gateway answers 503 then), so a hang is a failure
TOKEN_LIFETIME = 20 * 60  # s: log in again well inside the pool's 60-minute access tokens
RUN_SEED = (random.getrandbits(32) if RANDOM_SEED == "random" else int(RANDOM_SEED)) if RANDOM_SEED else 0
PASSWORD = "fuzz-listener-" + uuid.uuid4().hex[:12]

# The checks every answer goes through (schemathesis' `not_a_server_error` is added by name below).
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance, ignored_auth]


@dataclass(frozen=True)
class Listener:
    """A premium listener of the fuzzer's own, signed in through the identity route."""

    url: str
    email: str

    def login(self) -> str:
        answer = requests.post(
            f"{self.url}/auth/login", json={"email": self.email, "password": PASSWORD}, timeout=REQUEST_TIMEOUT
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["accessToken"])


def _seed_for(label: str) -> int:
    """One seed per operation from the run's seed (printed once), so a run replays exactly."""
    return int.from_bytes(hashlib.blake2b(f"{RUN_SEED}:{label}".encode(), digest_size=8).digest(), "big")


@pytest.fixture(scope="module", autouse=True)
def _announce_seed() -> None:
    if RANDOM_SEED:
        print(f"\nfuzz seed {RUN_SEED} (replay with BACKBEAT_FUZZ_SEED={RUN_SEED})", file=sys.stderr)


@pytest.fixture(scope="module")
def fuzz_listener(devstack: RunningStack) -> Listener:
    """A listener of its own (never a demo user: their devices, plays and playlists are other tests'
    fixtures), made premium so that the download and license routes are reached too."""
    email = f"fuzz-{uuid.uuid4().hex[:10]}@fuzz.test"
    signup = requests.post(
        f"{devstack.url}/auth/signup", json={"email": email, "password": PASSWORD}, timeout=REQUEST_TIMEOUT
    )
    assert signup.status_code == 201, signup.text
    promoted = devstack.cli("users", "set-tier", email, "premium")
    assert promoted.returncode == 0, promoted.stderr
    return Listener(devstack.url, email)


def _bearer_token(listener: Listener) -> type:
    class BearerToken:
        """Every generated request carries the listener's token; schemathesis logs in again when
        the token is TOKEN_LIFETIME old or a request is answered 401 with it."""

        def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
            return listener.login()

        def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    return BearerToken


@pytest.fixture(scope="module")
def api_schema(devstack: RunningStack, fuzz_listener: Listener) -> Any:
    """The document the stack serves at GET /openapi.json, loaded as the listener sees it."""
    schema = schemathesis.openapi.from_url(
        f"{devstack.url}/openapi.json",
        headers={"Authorization": f"Bearer {fuzz_listener.login()}"},
        timeout=REQUEST_TIMEOUT,
    )
    schema.config.update(base_url=devstack.url, request_timeout=REQUEST_TIMEOUT)
    schema.auth(refresh_interval=TOKEN_LIFETIME)(_bearer_token(fuzz_listener))
    return schema


def _operations() -> list[str]:
    """Every operation of the committed document (tests/unit/test_openapi.py holds it equal to the
    served one), so that each is a test of its own; the cases come from the served document."""
    document = json.loads(DOCUMENT.read_text())
    return [f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item]


def _strategy(operation: Any) -> st.SearchStrategy[schemathesis.Case]:
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    return st.one_of([operation.as_strategy(generation_mode=mode) for mode in modes])


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=not RANDOM_SEED,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing case is printed as it was sent
)


@pytest.mark.parametrize("label", _operations())
def test_no_route_answers_5xx_or_off_its_schema(api_schema: Any, label: str) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    checks = [schemathesis.checks.not_a_server_error, *CHECKS]

    @FUZZ_SETTINGS
    @given(case=_strategy(operation))
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=checks)

    if RANDOM_SEED:
        fuzz = seed(_seed_for(label))(fuzz)
    fuzz()


def test_linked_edits_answer_no_5xx_nor_off_their_schema(api_schema: Any) -> None:
    """Scenarios that follow the document's links: a playlist is created, then read, renamed, given
    songs, reordered, shared, emptied and deleted in generated orders; a device is registered and
    removed; an account signs up and logs in."""
    checks = [schemathesis.checks.not_a_server_error, *CHECKS]

    class LinkedEdits(api_schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    scenario_settings = settings(
        max_examples=STATEFUL_SCENARIOS,
        stateful_step_count=STATEFUL_STEPS,
        derandomize=not RANDOM_SEED,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    if RANDOM_SEED:
        seed(_seed_for("stateful"))(LinkedEdits)  # Hypothesis reads the seed off the machine class
    LinkedEdits.run(settings=scenario_settings)


@pytest.fixture(scope="module")
def fuzz_token(fuzz_listener: Listener) -> str:
    return fuzz_listener.login()


DEEP = "[" * 5000 + "]" * 5000
# (name, method, path, body bytes, headers): requests a careless client or an attacker sends through the
# gateway; every one is answered in JSON, never a 5xx nor a closed socket, and all but the undecodable
# query (read with replacement characters, as API Gateway reads it: an empty search) with a 4xx naming
# the problem.
HOSTILE = [
    ("deep-nesting", "POST", "/playlists", DEEP.encode(), {}),
    ("deep-object", "POST", "/auth/login", ('{"a":' * 3000 + "1" + "}" * 3000).encode(), {}),
    ("not-utf8", "POST", "/playlists", b'{"name": "\xff\xfe"}', {}),
    ("utf16", "POST", "/playlists", '{"name": "x"}'.encode("utf-16"), {}),
    ("bom", "POST", "/playlists", b'\xef\xbb\xbf{"name": "x"}', {}),
    ("xml", "POST", "/playlists", b"<playlist/>", {"Content-Type": "application/xml"}),
    (
        "form",
        "POST",
        "/auth/signup",
        b"email=a%40b.c&password=x",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    ("over-10-mb", "POST", "/events/playback", b"x" * (10 * 1024 * 1024 + 1), {}),
    ("huge-number", "POST", "/playlists", b'{"name": ' + b"9" * 5000 + b"}", {}),
    ("nan", "PUT", "/playlists/p-1/tracks", b'{"rangeStart": NaN, "insertBefore": 0}', {}),
    ("array-body", "POST", "/me/devices", b"[]", {}),
    ("bad-gzip", "POST", "/playlists", b"not gzip", {"Content-Encoding": "gzip"}),
    ("nul-in-path", "GET", "/songs/a%00b", b"", {}),
    ("not-utf8-path", "GET", "/albums/%ff%fe", b"", {}),
    ("not-utf8-query", "GET", "/search?q=%ff%fe&type=song", b"", {}),
    ("long-query", "GET", "/search?q=" + "a" * 12000, b"", {}),
    ("long-header", "GET", "/me", b"", {"X-Padding": "a" * 12000}),
    ("repeated-query", "GET", "/search?q=a&q=b&limit=1&limit=x", b"", {}),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_request_is_answered_in_json_never_5xx(
    devstack: RunningStack, fuzz_token: str, method: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {fuzz_token}", **headers}
    answer = requests.request(method, devstack.url + path, data=body, headers=sent, timeout=REQUEST_TIMEOUT)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    if "%ff" in path and "?" in path:
        assert answer.status_code in (200, 422) and answer.json(), answer.text[:300]
        return
    assert answer.status_code >= 400, (answer.status_code, answer.text[:300])
    error = answer.json()["error"]
    assert error["code"] and error["message"], error
