"""The download worker: each queued song prepared at its rung, encrypted once per rendition under a
KMS-wrapped content key, its download marked ready (or failed, with the reason); redelivery and
concurrency never make a second key or a second copy."""

from __future__ import annotations

import base64
import os
from typing import Any

import boto3
import pytest

from backbeat.downloads import keys
from backbeat.downloads.keys import ContentKeyItem
from tests.unit.conftest import load_function
from tests.unit.offline_downloads import download, encoded_song, put_download, sqs_event

USER, DEVICE, OTHER_DEVICE = "user-1", "device-1", "device-2"
SONG = "5kQ2mB7xYz1LpR9tVw3sNc"


@pytest.fixture
def worker(aws: Any) -> Any:
    return load_function("download_worker", aws)


def _content_key(key_id: str) -> bytes:
    item = ContentKeyItem.get(key_id)
    return keys.unwrap_content_key(
        boto3.client("kms"), os.environ["OFFLINE_MASTER_KEY_ARN"], item.wrapped_key_bytes, key_id
    )


def _offline_bytes(ready: dict[str, Any]) -> bytes:
    return bytes(boto3.client("s3").get_object(Bucket=ready["bucket"], Key=ready["key"])["Body"].read())


def test_a_queued_song_becomes_an_encrypted_rendition_at_its_rung_under_a_wrapped_key(aws, worker, context) -> None:  # type: ignore[no-untyped-def]
    rungs = encoded_song(aws, SONG)
    very_high = put_download(aws, USER, DEVICE, SONG, "very_high")
    high = put_download(aws, USER, OTHER_DEVICE, SONG, "high")
    in_kbps = put_download(aws, USER, "device-3", SONG, 200)  # a bitrate: the rung at or below it

    assert worker.lambda_handler(sqs_event(very_high, high, in_kbps), context) == {"batchItemFailures": []}

    ready = download(aws, USER, DEVICE, SONG)
    assert ready is not None and ready["status"] == "ready"
    assert ready["bitrateKbps"] == 320 and ready["contentKeyId"] == f"{SONG}.320k"
    assert ready["bucket"] == aws.ref("OfflineBucket") and ready["readyAt"].endswith("Z")
    sealed = _offline_bytes(ready)
    assert ready["bytes"] == len(sealed)
    assert keys.decrypt_file(_content_key(ready["contentKeyId"]), sealed) == rungs[320]
    # The file holds no clear audio: not one segment's bytes appear in it.
    assert rungs[320][-200:] not in sealed and rungs[320][:64] not in sealed
    # high is the 160 kbps rung, a rendition (and content key) of its own.
    other = download(aws, USER, OTHER_DEVICE, SONG)
    assert other is not None and other["bitrateKbps"] == 160 and other["contentKeyId"] == f"{SONG}.160k"
    assert keys.decrypt_file(_content_key(other["contentKeyId"]), _offline_bytes(other)) == rungs[160]
    numeric = download(aws, USER, "device-3", SONG)
    assert numeric is not None and numeric["bitrateKbps"] == 160 and numeric["key"] == other["key"]

    # The content key is stored only wrapped by KMS.
    raw = boto3.client("dynamodb").get_item(
        TableName=aws.ref("ContentKeysTable"), Key={"contentKeyId": {"S": f"{SONG}.320k"}}
    )["Item"]
    clear = _content_key(f"{SONG}.320k")
    stored = repr(raw).encode()
    assert len(clear) == 16 and clear not in stored and base64.b64encode(clear) not in stored
    assert raw["status"]["S"] == "ready"
    # KMS refuses to unwrap the blob under another content key's name (the encryption context).
    with pytest.raises(boto3.client("kms").exceptions.InvalidCiphertextException):
        keys.unwrap_content_key(
            boto3.client("kms"), os.environ["OFFLINE_MASTER_KEY_ARN"], base64.b64decode(raw["wrappedKey"]["S"]), "x.1k"
        )


def test_redelivered_jobs_and_other_devices_reuse_the_one_key_and_copy_deleted_ones_skip(aws, worker, context) -> None:  # type: ignore[no-untyped-def]
    rungs = encoded_song(aws, SONG)
    first = put_download(aws, USER, DEVICE, SONG)
    worker.lambda_handler(sqs_event(first), context)
    before = ContentKeyItem.get(f"{SONG}.320k")
    ready = download(aws, USER, DEVICE, SONG)
    assert ready is not None
    sealed = _offline_bytes(ready)

    # The same message again (SQS delivers at least once), and the same song for another user's device.
    second_user = put_download(aws, "user-2", "device-9", SONG)
    assert worker.lambda_handler(sqs_event(first, first, second_user), context) == {"batchItemFailures": []}

    after = ContentKeyItem.get(f"{SONG}.320k")
    assert after.wrapped_key == before.wrapped_key and after.ready_at == before.ready_at
    assert download(aws, USER, DEVICE, SONG) == ready  # untouched: not ready "again"
    theirs = download(aws, "user-2", "device-9", SONG)
    assert theirs is not None and (theirs["bucket"], theirs["key"]) == (ready["bucket"], ready["key"])
    listed = boto3.client("s3").list_objects_v2(Bucket=aws.ref("OfflineBucket"))["Contents"]
    assert [entry["Key"] for entry in listed] == [ready["key"]]
    assert _offline_bytes(ready) == sealed and keys.decrypt_file(_content_key(f"{SONG}.320k"), sealed) == rungs[320]

    # A download deleted before its job runs is skipped, not recreated by the worker's update.
    deleted = put_download(aws, USER, OTHER_DEVICE, SONG)
    boto3.resource("dynamodb").Table(aws.ref("DownloadsTable")).delete_item(
        Key={"userId": USER, "sk": f"DL#{OTHER_DEVICE}#{SONG}"}
    )
    assert worker.lambda_handler(sqs_event(deleted), context) == {"batchItemFailures": []}
    assert download(aws, USER, OTHER_DEVICE, SONG) is None


def test_a_job_resumed_after_a_crash_encrypts_under_the_key_already_stored(aws, worker, context) -> None:  # type: ignore[no-untyped-def]
    """A worker that stored the wrapped key and died before writing the file: the next one must use
    that key, not a new one, or licenses issued from the stored key would not open the file."""
    from datetime import UTC, datetime

    rungs = encoded_song(aws, SONG)
    key_id = f"{SONG}.320k"
    data_key = keys.generate_content_key(boto3.client("kms"), os.environ["OFFLINE_MASTER_KEY_ARN"], key_id)
    ContentKeyItem.new(key_id, SONG, 320, data_key.wrapped, datetime.now(UTC)).save()

    worker.lambda_handler(sqs_event(put_download(aws, USER, DEVICE, SONG)), context)

    ready = download(aws, USER, DEVICE, SONG)
    assert ready is not None and ready["status"] == "ready"
    assert keys.decrypt_file(data_key.plaintext, _offline_bytes(ready)) == rungs[320]


def test_a_job_that_can_never_succeed_fails_with_its_reason(aws, worker, context) -> None:  # type: ignore[no-untyped-def]
    encoded_song(aws, SONG)
    unknown = put_download(aws, USER, DEVICE, "NoSuchSong0000000000000")
    bad_quality = put_download(aws, USER, OTHER_DEVICE, SONG, "lossless")

    assert worker.lambda_handler(sqs_event(unknown, bad_quality), context) == {"batchItemFailures": []}

    failed = download(aws, USER, DEVICE, "NoSuchSong0000000000000")
    assert failed is not None and failed["status"] == "failed"
    assert "no song NoSuchSong0000000000000" in failed["reason"]
    other = download(aws, USER, OTHER_DEVICE, SONG)
    assert other is not None and other["status"] == "failed" and "unknown quality 'lossless'" in other["reason"]

    # A message that is not a job can never become one: dropped, not retried.
    assert worker.lambda_handler(sqs_event("not json", {"jobId": "j"}), context) == {"batchItemFailures": []}


def test_a_failing_job_is_retried_then_failed_with_the_error_on_its_last_delivery(aws, worker, context) -> None:  # type: ignore[no-untyped-def]
    encoded_song(aws, SONG)
    boto3.client("s3").delete_object(Bucket=aws.ref("MediaBucket"), Key=f"songs/{SONG}/master_320k_00001.m4s")
    job = put_download(aws, USER, DEVICE, SONG)
    fine_song = "7Qm2vX9cLp4TzR8wKs1NbY"
    encoded_song(aws, fine_song)
    fine = put_download(aws, USER, DEVICE, fine_song)

    event = sqs_event(job, fine)
    answer = worker.lambda_handler(event, context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    retried = download(aws, USER, DEVICE, SONG)
    assert retried is not None and retried["status"] == "queued"  # the queue delivers it again
    ready = download(aws, USER, DEVICE, fine_song)
    assert ready is not None and ready["status"] == "ready"  # the rest of the batch is done

    last = sqs_event(job, receive_count=5)  # the redrive limit: next stop, the dead-letter queue
    assert worker.lambda_handler(last, context)["batchItemFailures"] != []
    failed = download(aws, USER, DEVICE, SONG)
    assert failed is not None and failed["status"] == "failed"
    assert "failed 5 times" in failed["reason"] and "NoSuchKey" in failed["reason"]


def test_the_offline_file_refuses_tampering_truncation_and_the_wrong_key() -> None:
    key, other = os.urandom(16), os.urandom(16)
    chunks = [b"init" * 10, b"segment one" * 50, b"segment two" * 50]
    sealed = keys.encrypt_file(key, "song.320k", chunks)
    assert list(keys.decrypt_chunks(key, sealed)) == chunks
    assert keys.file_key_id(sealed) == "song.320k"
    assert keys.encrypt_file(key, "song.320k", chunks) == sealed  # the same key writes the same bytes

    flipped = bytearray(sealed)
    flipped[len(sealed) // 2] ^= 1
    last_chunk = 4 + len(chunks[-1]) + 16
    for broken in (bytes(flipped), sealed[:-last_chunk], sealed[:-1]):
        with pytest.raises(keys.CorruptOfflineFile):
            keys.decrypt_file(key, broken)
    with pytest.raises(keys.CorruptOfflineFile):
        keys.decrypt_file(other, sealed)
    header = len(keys.MAGIC) + 2 + len("song.320k")
    swapped = keys.encrypt_file(key, "othr.320k", chunks)[:header] + sealed[header:]
    with pytest.raises(keys.CorruptOfflineFile):  # chunks moved under another file's header
        keys.decrypt_file(key, swapped)


def test_the_sample_event_is_a_job_of_the_queue_contract() -> None:
    import json

    from backbeat.downloads.preparation import DownloadJob
    from tests.support import ROOT

    event = json.loads((ROOT / "events" / "streams" / "download_worker_jobs.json").read_text())
    (record,) = event["Records"]
    job = DownloadJob.model_validate_json(record["body"])
    assert record["eventSource"] == "aws:sqs" and job.sort_key == f"DL#{job.device_id}#{job.song_id}"
