"""The first start's catalog seed, written into moto in-process."""

from __future__ import annotations

from typing import Any

import boto3

from backbeat.catalog.models import META, song_key
from backbeat_ops.dataset import load_catalog
from devstack.resources import Deployment
from devstack.seed import DEFAULT_CATALOG_DIR, write_catalog_in_process


def stream_records(stream_arn: str) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"])


def test_the_seeded_catalog_is_readable_and_later_writes_still_stream(aws: Deployment) -> None:
    """The seed's own writes are indexed in bulk, so its stream records would never be read; the
    songs are all there, and a write after the seed reaches the stream (what search follows)."""
    catalog = load_catalog(DEFAULT_CATALOG_DIR).first(20)
    table_name = aws.tables["CatalogTable"]
    report = write_catalog_in_process(table_name, catalog)
    assert report.songs == 20

    table = boto3.resource("dynamodb").Table(table_name)
    song = catalog.songs[0]
    assert table.get_item(Key={"pk": song_key(song.id), "sk": META})["Item"]["title"] == song.title
    stream_arn = table.latest_stream_arn
    assert stream_records(stream_arn) == []

    table.update_item(
        Key={"pk": song_key(song.id), "sk": META},
        UpdateExpression="SET title = :t",
        ExpressionAttributeValues={":t": "Renamed"},
    )
    records = stream_records(stream_arn)
    assert [record["eventName"] for record in records] == ["MODIFY"]
    assert records[0]["dynamodb"]["NewImage"]["title"] == {"S": "Renamed"}
