"""DynamoDB tables, S3 buckets, Secrets Manager secrets, KMS keys, the CloudFront distribution (recorded,
not emulated), SQS queues, Kinesis streams and the OpenSearch Serverless collection."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from devstack.resources.base import CreatorBase


class StorageCreators(CreatorBase):
    def _table(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        table_name = props.get("TableName") or self.physical_name(name)
        request: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                request[key] = [
                    {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"} for index in props[key]
                ]
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        dynamodb = self.client("dynamodb")
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self.resolver.refs[name] = table_name
        self.resolver.attrs[(name, "Arn")] = description["TableArn"]
        if description.get("LatestStreamArn"):
            self.resolver.attrs[(name, "StreamArn")] = description["LatestStreamArn"]
        self.deployment.tables[name] = table_name

    def _simple_table(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        self._table(
            name,
            {
                "TableName": props.get("TableName") or self.physical_name(name),
                "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
                "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            },
        )

    def _bucket(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        bucket = (props.get("BucketName") or self.physical_name(name)).lower()
        s3 = self.client("s3")
        s3.create_bucket(Bucket=bucket)
        notifications = props.get("NotificationConfiguration") or {}
        if (notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            # moto's S3 then sends the bucket's events to EventBridge (see patch_moto_eventbridge_states_targets)
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        self.resolver.refs[name] = bucket
        self.resolver.attrs[(name, "Arn")] = f"arn:aws:s3:::{bucket}"
        self.resolver.attrs[(name, "DomainName")] = f"{bucket}.s3.amazonaws.com"
        self.resolver.attrs[(name, "RegionalDomainName")] = f"{bucket}.s3.{self.session.region_name}.amazonaws.com"

    def _secret(self, name: str, properties: dict[str, Any]) -> None:
        """A secret in moto; `GenerateSecretString` becomes a random alphanumeric string of its length."""
        props = self._props(properties)
        value = props.get("SecretString")
        if value is None:
            length = int((props.get("GenerateSecretString") or {}).get("PasswordLength", 32))
            alphabet = string.ascii_letters + string.digits
            value = "".join(secrets.choice(alphabet) for _ in range(length))
        created = self.client("secretsmanager").create_secret(
            Name=props.get("Name") or self.physical_name(name), SecretString=value
        )
        self.resolver.refs[name] = created["ARN"]  # Ref of a secret is its ARN
        self.resolver.attrs[(name, "Id")] = created["ARN"]

    def _kms_key(self, name: str, properties: dict[str, Any]) -> None:
        """A KMS key in moto, of the template's spec and usage (the key policy is AWS's business)."""
        props = self._props(properties)
        created = self.client("kms").create_key(
            Description=str(props.get("Description", name)),
            KeySpec=str(props.get("KeySpec", "SYMMETRIC_DEFAULT")),
            KeyUsage=str(props.get("KeyUsage", "ENCRYPT_DECRYPT")),
        )["KeyMetadata"]
        self.resolver.refs[name] = created["KeyId"]  # Ref of a key is its id
        self.resolver.attrs[(name, "Arn")] = created["Arn"]
        self.resolver.attrs[(name, "KeyId")] = created["KeyId"]

    def _distribution(self, name: str, properties: dict[str, Any]) -> None:
        """No CloudFront locally (the gateway serves /media); only its domain name, for references."""
        self.resolver.refs[name] = "EDEVSTACK" + name.upper()[:5]
        self.resolver.attrs[(name, "DomainName")] = f"{name.lower()}.cloudfront.devstack.invalid"

    def _queue(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        queue_name = props.get("QueueName") or self.physical_name(name) + (".fifo" if props.get("FifoQueue") else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "MaximumMessageSize",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in props:
                attributes[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.resolver.refs[name] = url
        self.resolver.attrs[(name, "Arn")] = arn
        self.resolver.attrs[(name, "QueueUrl")] = url
        self.resolver.attrs[(name, "QueueName")] = queue_name

    def _kinesis_stream(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        stream_name = props.get("Name") or self.physical_name(name)
        kinesis = self.client("kinesis")
        # An on-demand stream starts with 4 shards' write capacity in AWS; the devstack gives it 4
        # shards so that per-partition-key ordering (and its absence across keys) is as in AWS.
        on_demand = (props.get("StreamModeDetails") or {}).get("StreamMode") == "ON_DEMAND"
        shards = 4 if on_demand else int(props.get("ShardCount", 1))
        kinesis.create_stream(StreamName=stream_name, ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamARN"]
        self.resolver.refs[name] = stream_name
        self.resolver.attrs[(name, "Arn")] = arn

    def _search_collection(self, name: str, properties: dict[str, Any]) -> None:
        """An OpenSearch Serverless collection is the devstack's search engine (osmem-server)."""
        if self.search_endpoint is None:
            raise RuntimeError(f"{name}: this devstack has no search engine to stand in for the collection")
        props = self._props(properties)
        collection_id = f"local{abs(hash(name)) % 10**8:08d}"
        region = self.session.region_name
        self.resolver.refs[name] = collection_id
        self.resolver.attrs[(name, "Id")] = collection_id
        self.resolver.attrs[(name, "Arn")] = f"arn:aws:aoss:{region}:123456789012:collection/{collection_id}"
        self.resolver.attrs[(name, "CollectionEndpoint")] = self.search_endpoint()
        self.resolver.attrs[(name, "DashboardEndpoint")] = ""
        self.deployment.search_collections[name] = props.get("Name", name)
