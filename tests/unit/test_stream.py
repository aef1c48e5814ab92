"""StreamManifest and signed media URLs: the token (valid, expired, tampered, another user's or
song's), the quality/tier caps and loudness gain, and the stream function over moto."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from backbeat.errors import Forbidden
from backbeat.media import manifest, signing
from tests.support import ROOT
from tests.unit.conftest import load_function

SECRET = b"unit-test-signing-key"
NOW = 1_800_000_000
SONG = "SongAAAAAAAAAAAAAAAAAA"


def path_for(token: str, file: str = "master_128k_00000.m4s", song: str = SONG) -> str:
    return f"/media/{token}/songs/{song}/{file}"


def token(user: str = "alice", song: str = SONG, cap: int = 160, expiry: int = NOW + 60) -> str:
    return signing.sign(SECRET, user_id=user, song_id=song, cap_kbps=cap, expiry=expiry)


def test_a_signed_path_verifies_until_it_expires() -> None:
    grant = signing.verify(SECRET, path_for(token()), now=NOW)
    assert grant.key == f"songs/{SONG}/master_128k_00000.m4s" and grant.cap_kbps == 160
    assert grant.user_tag == signing.user_tag(SECRET, "alice") != signing.user_tag(SECRET, "bob")
    with pytest.raises(Forbidden, match="expired"):
        signing.verify(SECRET, path_for(token()), now=NOW + 60)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: path_for(t, song="SongBBBBBBBBBBBBBBBBBB"),  # another song
        lambda t: path_for(t.replace(t.split(".")[2], signing.user_tag(SECRET, "bob"))),  # another user
        lambda t: path_for(t.replace(f"{NOW + 60}.", f"{NOW + 9999}.", 1)),  # a later expiry
        lambda t: path_for(t.replace(".160.", ".320.", 1)),  # a higher cap
        lambda t: path_for(t[:-2] + ("AA" if not t.endswith("AA") else "BB")),  # a forged signature
        lambda t: path_for(t, file="master_320k_00000.m4s"),  # a rung above the token's cap
        lambda t: path_for(t, file="master_320k_max.m3u8"),
        lambda t: path_for(t, file="master_max160k.m3u8"),  # no longer a rung's name: refused
        lambda t: path_for(t, file="master_320k_init.mp4"),
        lambda t: path_for(t, file="init_4.mp4"),  # the encoder's name of the 320 kbps init segment
        lambda t: path_for(t, file="init_0.mp4"),  # named after no rung: refused even for a low one
        lambda t: path_for(t, file="master.m3u8"),  # the full master, uncapped
        lambda t: path_for(t, file="master_1600k.m3u8"),
        lambda t: path_for(t, file="master_320kInit.cmfa"),
        lambda t: path_for(t, file="master_320k_00001.cmfa"),  # any naming of a rung's files
        lambda t: path_for(t, file="master_256kInit.mp4"),
        lambda t: path_for(t, file="..%2Fx"),
        lambda t: f"/media/{t}/songs/{SONG}/a/b.m4s",
        lambda t: f"/media/{t}/other/{SONG}/init_0.mp4",
    ],
)
def test_a_tampered_path_is_refused(tamper: Any) -> None:
    with pytest.raises(Forbidden):
        signing.verify(SECRET, tamper(token()), now=NOW)


def test_another_key_is_refused_and_files_within_the_cap_pass() -> None:
    with pytest.raises(Forbidden, match="signature"):
        signing.verify(b"another key", path_for(token()), now=NOW)
    for file in ("master_160k_init_2.mp4", "master_160k_max.m3u8", "master_96k.m3u8", "master_160k_00012.m4s"):
        assert signing.verify(SECRET, path_for(token(), file), now=NOW).file == file


def test_cache_control_is_immutable_for_segments_only() -> None:
    assert "immutable" in signing.cache_control("master_96k_00000.m4s")
    assert "immutable" in signing.cache_control("init_0.mp4")
    assert "immutable" not in signing.cache_control("master_96k.m3u8")


@pytest.mark.parametrize(
    ("quality", "tier", "cap"),
    [
        ("low", "free", 96),
        ("normal", "free", 128),
        ("high", "free", 160),
        ("very_high", "free", 160),
        ("very_high", "premium", 320),
        ("high", "premium", 160),
        ("very_high", "unknown-tier", 160),
    ],
)
def test_quality_is_capped_by_tier(quality: str, tier: str, cap: int) -> None:
    assert manifest.cap_kbps(quality, tier) == cap


def test_gain_normalises_to_minus_14_lufs_without_pushing_the_peak_over_minus_1() -> None:
    assert manifest.gain_db(-20.0, -8.0) == 6.0
    assert manifest.gain_db(-20.0, -3.0) == 2.0  # peak-limited
    assert manifest.gain_db(-8.0, 0.5) == -6.0  # loud masters are turned down


MASTER = "\n".join(
    ["#EXTM3U", "#EXT-X-VERSION:7"]
    + [
        f'#EXT-X-STREAM-INF:BANDWIDTH={k * 1000},CODECS="mp4a.40.2"\nmaster_{k}k.m3u8\n'
        for k in (96, 128, 160, 256, 320)
    ]
)


def test_the_capped_master_lists_only_the_allowed_rungs() -> None:
    capped = manifest.filter_master(MASTER, 160)
    assert [line for line in capped.splitlines() if not line.startswith("#")] == [
        "master_96k.m3u8",
        "master_128k.m3u8",
        "master_160k.m3u8",
    ]
    assert capped.count("#EXT-X-STREAM-INF") == 3 and capped.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")


# ---------------------------------------------------------------- the function over moto


def _media_playlist(kbps: int, index: int) -> str:
    segments = "".join(f"#EXTINF:10.0,\nmaster_{kbps}k_{n:05d}.m4s\n" for n in range(5))
    return f'#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MAP:URI="init_{index}.mp4"\n{segments}#EXT-X-ENDLIST\n'


def _seed(aws: Any, status: str = "ready") -> None:
    outputs = aws.outputs
    bucket = outputs["MediaBucketName"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=f"songs/{SONG}/master.m3u8", Body=MASTER.encode())
    for index, kbps in enumerate((96, 128, 160, 256, 320)):
        s3.put_object(Bucket=bucket, Key=f"songs/{SONG}/master_{kbps}k.m3u8", Body=_media_playlist(kbps, index))
        s3.put_object(Bucket=bucket, Key=f"songs/{SONG}/init_{index}.mp4", Body=f"ftyp moov {kbps}k".encode())
        for n in range(5):
            s3.put_object(Bucket=bucket, Key=f"songs/{SONG}/master_{kbps}k_{n:05d}.m4s", Body=b"moof mdat")
    renditions = [
        {
            "M": {
                "bitrateKbps": {"N": str(k)},
                "codec": {"S": "mp4a.40.2"},
                "playlistKey": {"S": f"songs/{SONG}/master_{k}k.m3u8"},
                "segmentSeconds": {"N": "10"},
            }
        }
        for k in (96, 128, 160, 256, 320)
    ]
    boto3.client("dynamodb").put_item(
        TableName=outputs["CatalogTableName"],
        Item={
            "pk": {"S": f"SONG#{SONG}"},
            "sk": {"S": "META"},
            "entity": {"S": "song"},
            "id": {"S": SONG},
            "title": {"S": "Test"},
            "artistId": {"S": "a"},
            "artistName": {"S": "A"},
            "albumId": {"S": "b"},
            "albumTitle": {"S": "B"},
            "albumType": {"S": "single"},
            "durationMs": {"N": "50000"},
            "gsi1pk": {"S": "ARTIST#a"},
            "gsi1sk": {"S": "test"},
            "gsi2pk": {"S": "ALBUM#b"},
            "gsi2sk": {"S": "0001"},
            "status": {"S": status},
            "renditions": {"L": renditions},
            "loudness": {"M": {"integratedLufs": {"N": "-20"}, "truePeakDb": {"N": "-3"}}},
        },
    )
    for user, tier in (("free-user", "free"), ("premium-user", "premium")):
        boto3.client("dynamodb").put_item(
            TableName=outputs["UsersTableName"],
            Item={"userId": {"S": user}, "email": {"S": f"{user}@x.test"}, "tier": {"S": tier}},
        )


def _event(user: str, body: Any, song: str = SONG) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "events" / "stream_post.json").read_text()))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/stream/{song}"
    event["pathParameters"] = {"songId": song}
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def _call(module: Any, context: Any, user: str, body: Any, song: str = SONG) -> tuple[int, dict[str, Any]]:
    response = module.lambda_handler(_event(user, body, song), context)
    return int(response["statusCode"]), json.loads(response["body"])


def test_the_manifest_caps_by_tier_and_signs_every_url(aws, context) -> None:  # type: ignore[no-untyped-def]
    _seed(aws)
    module = load_function("stream", aws)
    secret = module.SECRET
    status, free = _call(module, context, "free-user", {"quality": "very_high"})
    assert status == 200, free
    assert [r["bitrateKbps"] for r in free["renditions"]] == [96, 128, 160]
    assert free["startBitrateKbps"] == 128 and free["segmentSeconds"] == 10 and free["codec"] == "mp4a.40.2"
    assert free["loudness"] == {"integratedLufs": -20.0, "truePeakDb": -3.0, "gainDb": 2.0}
    assert free["masterPlaylistUrl"].endswith("/master_160k_max.m3u8")
    assert [url.rsplit("/", 1)[1] for url in free["prebuffer"]] == [
        "master_128k_init_1.mp4",
        "master_128k_00000.m4s",
        "master_128k_00001.m4s",
        "master_128k_00002.m4s",
    ]
    urls = [free["masterPlaylistUrl"], *free["prebuffer"], *(r["playlistUrl"] for r in free["renditions"])]
    base = next(s for s in aws.functions if s.code_dir.name == "stream").environment["MEDIA_BASE_URL"]
    for url in urls:
        assert url.startswith(base + "/")
        signing.verify(secret, url.removeprefix(base.removesuffix("/media")))
    capped = boto3.client("s3").get_object(
        Bucket=aws.outputs["MediaBucketName"], Key=f"songs/{SONG}/master_160k_max.m3u8"
    )
    assert b"master_256k" not in capped["Body"].read()

    status, premium = _call(module, context, "premium-user", {"quality": "very_high"})
    assert status == 200 and [r["bitrateKbps"] for r in premium["renditions"]] == [96, 128, 160, 256, 320]
    status, low = _call(module, context, "premium-user", {"quality": "low"})
    assert status == 200 and [r["bitrateKbps"] for r in low["renditions"]] == [96] and low["startBitrateKbps"] == 96


def test_unknown_not_ready_and_bad_bodies(aws, context) -> None:  # type: ignore[no-untyped-def]
    _seed(aws, status="processing")
    module = load_function("stream", aws)
    assert _call(module, context, "free-user", {"quality": "high"})[0] == 409
    assert _call(module, context, "free-user", {"quality": "high"}, song="NoSuchSong")[0] == 404
    for body in ({"quality": "ultra"}, {}, {"quality": "low", "extra": 1}, "not json"):
        status, answer = _call(module, context, "free-user", body)
        assert status == 422, (body, answer)
    assert _call(module, context, "free-user", {"quality": "ultra"})[1]["error"]["field"] == "quality"


LINKED = "LinkedAAAAAAAAAAAAAAAAA"


def _link(aws: Any, song: str, media: str) -> None:
    """A catalog song without audio of its own that plays `media`'s (the demo catalog's link)."""
    boto3.client("dynamodb").put_item(
        TableName=aws.outputs["CatalogTableName"],
        Item={
            "pk": {"S": f"SONG#{song}"},
            "sk": {"S": "META"},
            "entity": {"S": "song"},
            "id": {"S": song},
            "title": {"S": "Listed"},
            "artistId": {"S": "a"},
            "artistName": {"S": "A"},
            "albumId": {"S": "c"},
            "albumTitle": {"S": "C"},
            "albumType": {"S": "album"},
            "durationMs": {"N": "181000"},
            "gsi1pk": {"S": "ARTIST#a"},
            "gsi1sk": {"S": "listed"},
            "gsi2pk": {"S": "ALBUM#c"},
            "gsi2sk": {"S": "0001"},
            "mediaId": {"S": media},
        },
    )


def test_a_linked_song_plays_the_media_it_links_to(aws, context) -> None:  # type: ignore[no-untyped-def]
    _seed(aws)
    _link(aws, LINKED, SONG)
    _link(aws, "Dangling", "NoSuchMedia")
    module = load_function("stream", aws)
    status, answer = _call(module, context, "free-user", {"quality": "high"}, song=LINKED)
    assert status == 200, answer
    assert answer["songId"] == LINKED
    assert answer["durationMs"] == 50000  # what actually plays, not the listing's 181 s
    assert [r["bitrateKbps"] for r in answer["renditions"]] == [96, 128, 160]
    assert all(f"/songs/{SONG}/" in url for url in [answer["masterPlaylistUrl"], *answer["prebuffer"]])
    status, answer = _call(module, context, "free-user", {"quality": "high"}, song="Dangling")
    assert status == 409 and "not ingested" in answer["error"]["message"]


def test_a_song_linked_to_media_still_encoding_is_409(aws, context) -> None:  # type: ignore[no-untyped-def]
    _seed(aws, status="processing")
    _link(aws, LINKED, SONG)
    module = load_function("stream", aws)
    status, answer = _call(module, context, "free-user", {"quality": "high"}, song=LINKED)
    assert status == 409 and "not ready" in answer["error"]["message"]
