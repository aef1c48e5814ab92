"""The local cloud: Backbeat's `template.yaml` running in one Python process tree, without Docker.

- `devstack.template`  reads the SAM template and resolves its intrinsic functions.
- `devstack.resources` creates the template's resources in a moto server.
- `devstack.lambdas`   runs Lambda handlers in-process (also for Step Functions Task states).
- `devstack.gateway`   the local API Gateway: HTTP API routes with the JWT authorizer.
- `devstack.pollers`   event source mappings: DynamoDB streams, Kinesis and SQS.
- `devstack.moto_patches` corrections to moto where it differs from AWS.
- `devstack.stack`     starts and stops all of it; `python -m devstack` is `make dev`.
"""
