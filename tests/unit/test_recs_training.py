"""Training, artefacts and the registry: a trained model survives its round trip through S3, the
registry promotes conditionally, serving's load_promoted() follows the pointer, and the weekly
run publishes a version and promotes it only when it is not worse than the promoted one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from backbeat.aws import client
from backbeat.recs import artefacts, registry
from backbeat.recs.artefacts import RecsModel
from backbeat_recs.pipeline import ExportedPlays, run_training
from backbeat_recs.synthetic import Scenes, scenes
from backbeat_recs.training import TrainingSettings, build_model, train
from devstack.stack import Deployment
from tests.unit.conftest import load_function

SMALL = TrainingSettings(factors=16, iterations=8, item_model_lambda=20.0)


@pytest.fixture(scope="module")
def data() -> Scenes:
    return scenes(clusters=3, users=150, seed=11)


def built(data: Scenes, version: str = "v1") -> RecsModel:
    c = data.catalog
    return build_model(
        version,
        train(data.rows, SMALL),
        c.song_ids,
        c.song_artists,
        c.song_genres,
        c.raw_features,
        c.content,
        c.artists,
        c.artist_vectors,
    )


def test_train_takes_any_user_item_weight_rows() -> None:
    rows = [("u1", "a", 3.0), ("u1", "b", 1.0), ("u2", "a", 2.0), ("u2", "c", 5.0), ("u3", "b", 1.0), ("u3", "c", 1.0)]
    model = train(rows, TrainingSettings(factors=4, iterations=3))
    assert sorted(model.items) == ["a", "b", "c"]
    assert model.item_factors.shape == (3, 4)
    assert model.users == 3 and model.interactions == 6
    assert list(model.listeners[[model.items.index(i) for i in "abc"]]) == [2, 2, 2]


def test_the_model_survives_save_and_load(data: Scenes, tmp_path: Path) -> None:
    model = built(data)
    model.save(tmp_path)
    loaded = RecsModel.load(tmp_path)
    song = data.catalog.song_ids[7]
    assert loaded.version == "v1"
    assert loaded.song_features(song) == model.song_features(song)
    assert loaded.song_artist(song) == data.catalog.song_artists[7]
    assert loaded.song_genres(song) == data.catalog.song_genres[7]
    plays = {song: 3.0 for song in data.catalog.song_ids[:5]}
    assert np.allclose(loaded.user_vector(plays), model.user_vector(plays))  # type: ignore[arg-type]
    assert loaded.neighbour_scores(plays) == pytest.approx(model.neighbour_scores(plays))
    artist = data.catalog.artists[0]
    assert loaded.similar_artists([artist], 3) == model.similar_artists([artist], 3)
    assert loaded.artist_songs(artist, 2) == model.artist_songs(artist, 2)
    features = loaded.song_features(song)
    assert features is not None and {"energy", "valence", "danceability", "acousticness", "tempo"} <= set(features)


def test_promotion_is_conditional(aws: Deployment) -> None:
    table = aws.tables["RecsRegistryTable"]
    for version in ("v1", "v2"):
        registry.record(
            table, registry.ModelRecord(version, "2026-12-01T00:00:00Z", None, None, {}, f"models/{version}/")
        )
    assert registry.promoted_version(table) is None
    registry.promote(table, "v1", expected_current=None)
    with pytest.raises(registry.PromotionConflict):
        registry.promote(table, "v2", expected_current=None)  # someone promoted meanwhile
    with pytest.raises(registry.PromotionConflict):
        registry.promote(table, "v9", expected_current="v1")  # no such version
    registry.promote(table, "v2", expected_current="v1")
    assert registry.promoted_version(table) == "v2"
    records = {record.version: record for record in registry.versions(table)}
    assert records["v2"].promoted and not records["v1"].promoted


def test_load_promoted_follows_the_pointer(aws: Deployment, data: Scenes, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, table = aws.ref("RecsModelsBucket"), aws.tables["RecsRegistryTable"]
    monkeypatch.setenv("RECS_MODELS_BUCKET", bucket)
    monkeypatch.setenv("RECS_REGISTRY_TABLE", table)
    artefacts.forget_promoted()
    assert artefacts.load_promoted(now=0.0) is None
    for version in ("v1", "v2"):
        prefix = artefacts.publish(built(data, version), bucket, client("s3"))
        registry.record(table, registry.ModelRecord(version, "2026-12-01T00:00:00Z", None, None, {}, prefix))
    registry.promote(table, "v1", expected_current=None)
    assert artefacts.load_promoted(now=0.0) is None  # checked a moment ago: the cache holds
    first = artefacts.load_promoted(now=100.0)
    assert first is not None and first.version == "v1"
    registry.promote(table, "v2", expected_current="v1")
    assert artefacts.load_promoted(now=120.0) is first  # within the minute: same model object
    second = artefacts.load_promoted(now=200.0)
    assert second is not None and second.version == "v2"
    assert artefacts.load_promoted(now=300.0) is second  # pointer unchanged: no reload
    artefacts.forget_promoted()


def test_the_model_loads_where_the_function_started_without_its_environment(
    aws: Deployment, data: Scenes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving loads the model on its cache's threads, after the cold start: the bucket and registry
    read at cold start are the ones used (a local stack sets a function's variables only while it
    starts), so a model promoted later is served."""
    bucket, table = aws.ref("RecsModelsBucket"), aws.tables["RecsRegistryTable"]
    monkeypatch.delenv("RECS_MODELS_BUCKET", raising=False)
    monkeypatch.delenv("RECS_REGISTRY_TABLE", raising=False)
    artefacts.forget_promoted()
    function = load_function("recommendations", aws)  # its variables are set while it imports only
    assert function.backend.split().promoted is None  # nothing promoted yet
    prefix = artefacts.publish(built(data, "v7"), bucket, client("s3"))
    registry.record(table, registry.ModelRecord("v7", "2026-12-01T00:00:00Z", None, None, {}, prefix))
    registry.promote(table, "v7", expected_current=None)
    model = artefacts.load_promoted(now=1e12)  # past the pointer's check interval
    assert model is not None and model.version == "v7"
    artefacts.forget_promoted()


def test_the_weekly_run_publishes_and_promotes_only_when_not_worse(aws: Deployment, data: Scenes) -> None:
    bucket, table = aws.ref("RecsModelsBucket"), aws.tables["RecsRegistryTable"]
    s3 = client("s3")
    exported = ExportedPlays.from_rows(data.rows, "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z")

    def load(version: str) -> RecsModel:
        return artefacts.download(bucket, version, s3)

    monday = datetime(2026, 11, 30, 3, tzinfo=UTC)
    first = run_training(exported, data.catalog, table, bucket, s3, load_model=load, settings=SMALL, now=monday)
    assert first["promote"] and first["comparedWith"] is None
    assert first["metrics"]["ndcg@10"] > 0.2
    registry.promote(table, first["version"], expected_current=None)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=first["artefactPrefix"])["Contents"]}
    assert {first["artefactPrefix"] + name for name in artefacts.FILES} == keys
    # a broken candidate (no collaborative signal: every weight on one song) is worse: not promoted
    broken = ExportedPlays.from_rows([(user, data.catalog.song_ids[0], 1.0) for user, _, _ in data.rows], None, None)
    second = run_training(broken, data.catalog, table, bucket, s3, load_model=load, settings=SMALL, now=monday)
    assert second["comparedWith"] == first["version"]
    record = registry.get(table, second["version"])
    assert record is not None and not record.promoted


def test_the_workflow_steps_export_train_and_promote(aws: Deployment, data: Scenes, context: object) -> None:
    """The state machine's three functions in turn, as Step Functions would call them: the export
    (empty lake: an empty export), the in-process training on plays written where the export puts
    them, then the promote step, which promotes the first version there is."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.unit.conftest import load_function

    bucket, table = aws.ref("RecsModelsBucket"), aws.tables["RecsRegistryTable"]
    s3 = client("s3")
    exported = load_function("recs_train_export", aws).lambda_handler(
        {"run": "w1", "startedAt": "2026-11-29T22:00:00.412Z"}, context
    )
    assert exported == {"run": "w1", "interactionsPrefix": "training/w1/interactions/"}
    users, songs, weights = zip(*data.rows, strict=True)
    frame = pa.table({"user_id": list(users), "song_id": list(songs), "weight": list(weights)})
    sink = io.BytesIO()
    pq.write_table(frame, sink)
    s3.put_object(Bucket=bucket, Key="training/w1/interactions/part-00000.parquet", Body=sink.getvalue())
    catalog = aws.tables["CatalogTable"]
    dynamodb = client("dynamodb")
    for row, song in enumerate(data.catalog.song_ids):
        features = {
            name: {"N": str(float(v))}
            for name, v in zip(artefacts.FEATURE_NAMES, data.catalog.raw_features[row], strict=True)
        }
        item = {
            "pk": {"S": f"SONG#{song}"},
            "sk": {"S": "META"},
            "artistId": {"S": data.catalog.song_artists[row]},
            "genres": {"L": [{"S": genre} for genre in data.catalog.song_genres[row]]},
            "audioFeatures": {"M": features},
        }
        dynamodb.put_item(TableName=catalog, Item=item)
    trained = load_function("recs_train", aws).lambda_handler(exported, context)
    assert trained["promote"] is True and trained["version"]
    promoted = load_function("recs_train_promote", aws).lambda_handler({"run": "w1"}, context)
    assert promoted["promoted"] == trained["version"]
    assert registry.promoted_version(table) == trained["version"]


def test_the_export_weighs_listening_time_per_listener_and_song() -> None:
    """The export's SQL over the lake's plays view (DuckDB, as the devstack runs it): each play counts
    its share of the song (at most 1), the latest version of a play only, bot plays and plays
    outside the window left out."""
    import duckdb

    from backbeat.recs.export import export_sql

    columns = (
        "playid, userid, songid, artistid, genres, tier, country, deviceid, devicetype, contexttype, contextid, "
        "startedat, lasteventat, receivedat, playedms, durationms, bitratekbps, ended, billable, reason, events, "
        "version, dt"
    )
    plays = [
        # play, user, song, played ms, duration ms, reason, version, day
        ("p1", "u1", "s1", 180_000, 180_000, "billable", 2, "2026-11-20"),
        ("p1", "u1", "s1", 40_000, 180_000, "billable", 1, "2026-11-20"),  # an older version of p1
        ("p2", "u1", "s1", 90_000, 180_000, "billable", 1, "2026-11-21"),
        ("p3", "u1", "s2", 600_000, 200_000, "billable", 1, "2026-11-22"),  # repeats count once per play
        ("p4", "u2", "s1", 20_000, 200_000, "short", 1, "2026-11-22"),
        ("p5", "u2", "s2", 200_000, 200_000, "bot:rate", 1, "2026-11-22"),
        ("p6", "u2", "s3", 200_000, 200_000, "billable", 1, "2026-06-01"),  # before the 90-day window
    ]
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE plays_raw (playid VARCHAR, userid VARCHAR, songid VARCHAR, artistid VARCHAR, genres VARCHAR[],"
        " tier VARCHAR, country VARCHAR, deviceid VARCHAR, devicetype VARCHAR, contexttype VARCHAR,"
        " contextid VARCHAR, startedat VARCHAR, lasteventat VARCHAR, receivedat VARCHAR, playedms BIGINT,"
        " durationms BIGINT, bitratekbps INTEGER, ended VARCHAR, billable BOOLEAN, reason VARCHAR, events INTEGER,"
        " version INTEGER, dt VARCHAR)"
    )
    for play, user, song, played, duration, reason, version, day in plays:
        started = f"{day}T10:00:00.000Z"
        row = (play, user, song, "a", [], "free", "SE", "d", "web", None, None, started, started, started)
        row += (played, duration, 160, "completed", reason == "billable", reason, 1, version, day)
        connection.execute(f"INSERT INTO plays_raw ({columns}) VALUES ({', '.join('?' * len(row))})", row)
    result = connection.execute(export_sql(datetime(2026, 11, 30, 22, tzinfo=UTC))).fetchall()
    weights = {(user, song): round(weight, 3) for user, song, weight, _, _ in result}
    assert weights == {("u1", "s1"): 1.5, ("u1", "s2"): 1.0, ("u2", "s1"): 0.1}
