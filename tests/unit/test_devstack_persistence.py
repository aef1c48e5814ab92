"""The devstack's snapshot of its emulators: what a developer keeps across `make dev` restarts, and
what happens when a snapshot cannot be trusted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict

from devstack import persistence
from devstack.persistence import DataDir, DataDirInUse, rebase, template_fingerprint

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _make_state() -> dict[str, str]:
    """A table with an item, a bucket with an object, and a user pool with a user who has a password."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="kept",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.put_item(TableName="kept", Item={"pk": {"S": "PL#1"}, "name": {"S": "Road trip"}})
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="song/1/master.ogg", Body=b"\x00audio" * 1000)
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="web", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
    )
    client_id = client["UserPoolClient"]["ClientId"]
    cognito.sign_up(ClientId=client_id, Username="keep@example.com", Password="A-long-password-1")
    cognito.admin_confirm_sign_up(UserPoolId=pool, Username="keep@example.com")
    return {"pool": pool, "client": client_id}


def _log_in(client_id: str) -> str:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    answer = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "keep@example.com", "PASSWORD": "A-long-password-1"},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def _messages() -> tuple[list[str], Any]:
    said: list[str] = []
    return said, said.append


def test_a_saved_snapshot_restores_tables_objects_and_users_with_their_passwords(aws: None, tmp_path: Path) -> None:
    ids = _make_state()
    data = DataDir(tmp_path, "fp")
    data.save({"deployment": "kept"}, {"gateway": "http://127.0.0.1:3000"}, search_endpoint=None)
    BackendDict.reset()  # what a new process starts with
    with pytest.raises(Exception, match="ResourceNotFound"):
        boto3.client("dynamodb", region_name=REGION).describe_table(TableName="kept")

    restored = DataDir(tmp_path, "fp").load()

    assert restored is not None
    assert restored.deployment == {"deployment": "kept"}
    assert restored.endpoints == {"gateway": "http://127.0.0.1:3000"}
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName="kept", Key={"pk": {"S": "PL#1"}})
    assert item["Item"]["name"] == {"S": "Road trip"}
    body = boto3.client("s3", region_name=REGION).get_object(Bucket="media", Key="song/1/master.ogg")["Body"].read()
    assert body == b"\x00audio" * 1000
    assert _log_in(ids["client"])  # the password survived, and so did the pool's signing key


def test_a_restored_table_stream_goes_on_from_where_it_was_without_the_old_records(aws: None, tmp_path: Path) -> None:
    _make_state()
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName="kept")["Table"]["LatestStreamArn"]
    DataDir(tmp_path, "fp").save(None, {}, search_endpoint=None)
    BackendDict.reset()
    assert DataDir(tmp_path, "fp").load() is not None

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName="kept", Item={"pk": {"S": "PL#2"}, "name": {"S": "After the restart"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in records] == ["PL#2"]


def test_a_crash_while_saving_leaves_the_previous_snapshot_whole(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_state()
    DataDir(tmp_path, "fp").save("first", {}, search_endpoint=None)

    def crash_half_way(payload: Any, stream: Any) -> None:
        stream.write(b"\x80\x05half a pickle")
        raise OSError("No space left on device")

    monkeypatch.setattr(persistence, "dump", crash_half_way)
    with pytest.raises(OSError, match="No space"):
        DataDir(tmp_path, "fp").save("second", {}, search_endpoint=None)
    monkeypatch.undo()

    assert sorted(path.name for path in tmp_path.iterdir()) == ["snapshot"]  # no staging folder left
    restored = DataDir(tmp_path, "fp").load()
    assert restored is not None and restored.deployment == "first"


def test_a_corrupt_snapshot_is_reported_set_aside_and_the_stack_starts_clean(aws: None, tmp_path: Path) -> None:
    _make_state()
    DataDir(tmp_path, "fp").save("first", {}, search_endpoint=None)
    (tmp_path / "snapshot" / "moto.pickle").write_bytes(b"\x80\x05not a pickle at all")
    said, log = _messages()

    assert DataDir(tmp_path, "fp", log=log).load() is None

    assert len(said) == 1 and "could not be loaded" in said[0] and "starting clean" in said[0]
    assert not (tmp_path / "snapshot").exists()
    assert [path.name.startswith("snapshot.unreadable-") for path in tmp_path.iterdir()] == [True]


def test_a_snapshot_from_another_template_is_discarded_with_a_message(aws: None, tmp_path: Path) -> None:
    _make_state()
    DataDir(tmp_path, "template-before").save("first", {}, search_endpoint=None)
    said, log = _messages()

    assert DataDir(tmp_path, "template-after", log=log).load() is None

    assert len(said) == 1 and "another template.yaml" in said[0] and "discarded" in said[0]
    assert not (tmp_path / "snapshot").exists()


def test_the_fingerprint_follows_the_template_and_the_resource_creator(tmp_path: Path) -> None:
    (tmp_path / "devstack").mkdir()
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "devstack" / "resources.py").write_text("CREATE = 1\n")
    before = template_fingerprint(tmp_path)
    assert template_fingerprint(tmp_path) == before
    (tmp_path / "template.yaml").write_text("Resources: {Table: {}}\n")
    after_template = template_fingerprint(tmp_path)
    (tmp_path / "devstack" / "resources.py").write_text("CREATE = 2\n")
    assert len({before, after_template, template_fingerprint(tmp_path)}) == 3


def test_reset_deletes_the_snapshot(aws: None, tmp_path: Path) -> None:
    DataDir(tmp_path, "fp").save("first", {}, search_endpoint=None)
    DataDir(tmp_path, "fp").reset()
    assert DataDir(tmp_path, "fp").load() is None


def test_two_stacks_cannot_share_a_data_dir(tmp_path: Path) -> None:
    first = DataDir(tmp_path / "data", "fp")
    first.acquire()
    try:
        with pytest.raises(DataDirInUse, match="in use"):
            DataDir(tmp_path / "data", "fp").acquire()
        DataDir(tmp_path / "other", "fp").acquire()  # another data dir is fine
    finally:
        first.release()
    DataDir(tmp_path / "data", "fp").acquire()


@dataclass
class _Spec:
    environment: dict[str, str]
    endpoints: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def test_rebase_moves_a_deployment_onto_new_endpoints_without_touching_longer_ports() -> None:
    spec = _Spec(
        environment={"SEARCH_ENDPOINT": "http://127.0.0.1:41000", "MEDIA_BASE_URL": "http://127.0.0.1:3000/media"},
        endpoints=("ws://127.0.0.1:3000", "http://127.0.0.1:30001"),
        notes=[json.dumps({"url": "http://127.0.0.1:3000/x"})],
    )
    moved = rebase(
        {"functions": [spec]},
        {"http://127.0.0.1:41000": "http://127.0.0.1:42000", "http://127.0.0.1:3000": "http://127.0.0.1:5000"},
    )
    result = moved["functions"][0]
    assert result.environment == {
        "SEARCH_ENDPOINT": "http://127.0.0.1:42000",
        "MEDIA_BASE_URL": "http://127.0.0.1:5000/media",
    }
    assert result.endpoints == ("ws://127.0.0.1:3000", "http://127.0.0.1:30001")
    assert result.notes == [json.dumps({"url": "http://127.0.0.1:5000/x"})]
