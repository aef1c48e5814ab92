"""Event source mappings run locally: DynamoDB streams, Kinesis and SQS feed in-process Lambda handlers.

moto stores stream records and queue messages but its own event source mappings need Docker, so
the devstack polls the sources itself, the way Lambda's pollers do: one daemon thread per mapping
builds Lambda's event shapes, batches by `BatchSize` / `MaximumBatchingWindowInSeconds`, and
applies Lambda's failure semantics so that code which relies on them (partial batch responses,
retries, on-failure destinations, SQS redrive to a DLQ) behaves locally as it will in AWS:

- Streams (DynamoDB, Kinesis): records of a shard are delivered in order. A failed batch is
  retried with a capped exponential backoff; with `ReportBatchItemFailures` the shard is
  checkpointed before the lowest failed sequence number and retried from there. After
  `MaximumRetryAttempts` (-1 = forever) the batch is described to the `OnFailure` destination
  (SQS queue or SNS topic) and skipped. `BisectBatchOnFunctionError` halves the batch on error.
- SQS: messages that succeeded are deleted; failed ones stay on the queue, come back after the
  visibility timeout and reach the queue's DLQ through its RedrivePolicy (moto applies it).

Polling is short (a fraction of a second when idle) so that local latency stays low.

Modules: `base` (Lambda's event encodings, the invoke step, the polling loop), `streams` (shards,
ordered delivery, retries, bisection, on-failure destinations), `dynamodb_streams`, `kinesis`,
`sqs` (one per source) and `group` (one thread per mapping).
"""

from devstack.pollers.group import PollerGroup
from devstack.pollers.streams import send_to_destination

__all__ = ["PollerGroup", "send_to_destination"]
