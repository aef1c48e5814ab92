"""The local cloud: Backbeat's `template.yaml` running in one Python process tree, without Docker.

- `devstack.template`  reads the SAM template and resolves its intrinsic functions.
- `devstack.resources` creates the template's resources in a moto server (creators per service;
                       the description of the created stack in `devstack.resources.model`).
- `devstack.lambdas`   runs Lambda handlers in-process (also for Step Functions Task states).
- `devstack.gateway`   the local API Gateway: HTTP API routes with the JWT authorizer, JSON errors.
- `devstack.websocket` the WebSocket API and its SigV4-signed @connections API (`devstack.sigv4`).
- `devstack.pollers`   event source mappings: DynamoDB streams, Kinesis and SQS (a module each).
- `devstack.moto_patches` corrections to moto where it differs from AWS (with
                       `devstack.moto_cognito_keys` and `devstack.moto_index_queries`).
- `devstack.stack`     starts and stops all of it; `python -m devstack` is `make dev`.
"""

import sys
from pathlib import Path

# The functions import this tree's layer, as Lambda puts a layer's code on their path, and the stack
# seeds (and trains) with this tree's packages: never another checkout's that an editable install maps
# `backbeat` to (a benchmark comparing two trees runs each tree's own code).
_ROOT = Path(__file__).resolve().parent.parent
for _path in (*(_ROOT / "packages" / name for name in ("recs", "ops", "client")), _ROOT / "layers" / "backbeat"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
