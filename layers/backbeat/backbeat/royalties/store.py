"""Where royalties live: the royalties table (holders, revenue, payments, run summaries, the index
of statements) and the royalties bucket (the splits register, the statements, the reports).

    pk HOLDER#<id>          sk PROFILE                       name, kind (holders that are not catalog artists)
    pk HOLDER#<id>          sk STATEMENT#<YYYY-MM>#<model>   the index of a statement (the artist analytics read it)
    pk HOLDER#<id>          sk PAYMENT#<YYYY-MM>             a payment (written once, conditionally)
    pk HOLDER#<id>          sk PAYMENT#<YYYY-MM>#ADJUSTMENT#<n>   a restatement's difference
    pk REVENUE#<YYYY-MM>    sk TIER#<tier>                   the revenue to distribute
    pk RUN#<YYYY-MM>#<model> sk TIER#<tier>                  the run summary of a tier
    pk MONTH#<YYYY-MM>      sk PAYMENTS                      the month's payment: model, digest, restatements

    splits/register.json.gz                                   the splits register (`SplitsRegister`)
    statements/<YYYY-MM>/<model>/[provisional/|restatement-<n>/]<holder>.csv
    reports/<YYYY-MM>/models.csv                              pro-rata vs user-centric per holder
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from backbeat.royalties.splits import Holder, SplitsRegister

REGISTER_KEY = "splits/register.json.gz"


def statement_key(month: str, model: str, holder: str, provisional: bool, restatement: int) -> str:
    folder = "provisional/" if provisional else (f"restatement-{restatement}/" if restatement else "")
    return f"statements/{month}/{model}/{folder}{holder}.csv"


def conditional_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (attribute values) as plain Python values."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}


@dataclass
class RoyaltiesStore:
    dynamodb: Any
    s3: Any
    table: str
    bucket: str

    # ------------------------------------------------------------------ items
    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=self.table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True)
        return plain_item(found["Item"]) if "Item" in found else None

    def put(
        self,
        item: dict[str, Any],
        condition: str | None = None,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Write `item`; with a condition, False (and nothing written) when the condition fails."""
        request: dict[str, Any] = {"TableName": self.table, "Item": _typed(item)}
        if condition:
            request["ConditionExpression"] = condition
            if values:
                request["ExpressionAttributeValues"] = _typed(values)
            if names:
                request["ExpressionAttributeNames"] = names
        try:
            self.dynamodb.put_item(**request)
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        expression = "pk = :pk" + (" AND begins_with(sk, :prefix)" if sk_prefix else "")
        values = {":pk": _s(pk), **({":prefix": _s(sk_prefix)} if sk_prefix else {})}
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression=expression,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        ):
            items.extend(plain_item(item) for item in page["Items"])
        return items

    def put_many(self, items: Iterable[dict[str, Any]]) -> int:
        """Unconditional batch writes (holders, the demo seed)."""
        written = 0
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append({"PutRequest": {"Item": _typed(item)}})
            if len(batch) == 25:
                written += self._write_batch(batch)
                batch = []
        if batch:
            written += self._write_batch(batch)
        return written

    def _write_batch(self, batch: list[dict[str, Any]]) -> int:
        pending = {self.table: batch}
        while pending:
            pending = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        return len(batch)

    # ---------------------------------------------------------------- holders
    def put_holders(self, holders: Iterable[Holder]) -> int:
        return self.put_many(
            {"pk": f"HOLDER#{h.holder_id}", "sk": "PROFILE", "holderId": h.holder_id, "name": h.name, "kind": h.kind}
            for h in holders
        )

    def known_holders(self, holder_ids: set[str]) -> set[str]:
        """Which of the ids are registered holders (PROFILE items)."""
        return {item["holderId"] for item in self._batch_get([(f"HOLDER#{h}", "PROFILE") for h in sorted(holder_ids)])}

    def _batch_get(self, keys: list[tuple[str, str]], table: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        name = table or self.table
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                name: {"Keys": [{"pk": _s(pk), "sk": _s(sk)} for pk, sk in keys[start : start + 100]]}
            }
            while request:
                answer = self.dynamodb.batch_get_item(RequestItems=request)
                found.extend(plain_item(item) for item in answer["Responses"].get(name, []))
                request = answer.get("UnprocessedKeys") or {}
        return found

    def existing_catalog_items(self, catalog_table: str, keys: list[tuple[str, str]]) -> set[str]:
        """The pks of `keys` that the catalog table holds (songs, artists)."""
        return {item["pk"] for item in self._batch_get(keys, catalog_table)}

    # ---------------------------------------------------------------- splits
    def load_register(self) -> SplitsRegister:
        try:
            data = self.s3.get_object(Bucket=self.bucket, Key=REGISTER_KEY)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return SplitsRegister()
            raise
        return SplitsRegister.from_bytes(data)

    def save_register(self, register: SplitsRegister) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=REGISTER_KEY, Body=register.to_bytes(), ContentType="application/gzip"
        )

    # ------------------------------------------------------------ S3 objects
    def put_object(self, key: str, body: bytes, content_type: str = "text/csv") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get_object(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
