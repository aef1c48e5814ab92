"""The training step as a job: read the exported interactions and the catalog, run the weekly
training (`backbeat_recs.pipeline.run_training`) and write its outcome to
`training/<run>/outcome.json`, which the workflow's promote step reads.

The same code runs in-process in the devstack (functions/recs_train) and as the SageMaker
Processing container in AWS (`python -m backbeat_recs.job`, settings from the environment:
RECS_MODELS_BUCKET, RECS_REGISTRY_TABLE, CATALOG_TABLE, INTERACTIONS_PREFIX, TRAINING_RUN).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from backbeat.aws import client
from backbeat.recs import artefacts
from backbeat_recs.catalog import CatalogData
from backbeat_recs.features import audio_features, tag_vectors
from backbeat_recs.pipeline import ExportedPlays, run_training


def outcome_key(run: str) -> str:
    return f"training/{run}/outcome.json"


def interactions_prefix(run: str) -> str:
    return f"training/{run}/interactions/"


def read_exported(bucket: str, prefix: str, s3: Any) -> ExportedPlays:
    """The export step's Parquet files under `prefix`, read as columns (no record per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", []) if item["Key"].endswith(".parquet")]
    tables = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, key in enumerate(keys):
            path = Path(scratch) / f"{number}.parquet"
            s3.download_file(bucket, key, str(path))
            tables.append(pq.read_table(path))
    if not tables or not sum(table.num_rows for table in tables):
        return ExportedPlays.from_rows([], None, None)
    table = pa.concat_tables(tables, promote_options="default")

    def bound(column: str, pick: str) -> str | None:
        if column not in table.column_names:
            return None
        value = getattr(pc, pick)(table[column]).as_py()
        return str(value) if value else None

    return ExportedPlays(
        users=np.asarray(table["user_id"].cast(pa.string()).to_pylist(), dtype=object),
        songs=np.asarray(table["song_id"].cast(pa.string()).to_pylist(), dtype=object),
        weights=table["weight"].cast(pa.float32()).to_numpy(zero_copy_only=False),
        window_start=bound("first_played", "min"),
        window_end=bound("last_played", "max"),
    )


def catalog_from_items(items: list[dict[str, Any]]) -> CatalogData:
    """The catalog's songs (catalog table items: audioFeatures, artistId, genres) -> CatalogData;
    each artist's tag vector from the genres its songs carry (Last.fm tags, cleaned at seeding)."""
    from backbeat_ops.dataset import Song

    songs: list[Song] = []
    genres: list[list[str]] = []
    for item in sorted(items, key=lambda item: str(item["pk"])):
        features = {key: float(value) for key, value in (item.get("audioFeatures") or {}).items()}
        song_id = str(item["pk"]).removeprefix("SONG#")
        songs.append(
            Song(song_id, "", str(item.get("artistId", "")), "", "", "", "single", 1, 0, 0, features, "")  # type: ignore[arg-type]
        )
        genres.append([str(genre) for genre in item.get("genres") or []])
    artists = sorted({song.artist_id for song in songs})
    position = {artist: row for row, artist in enumerate(artists)}
    counts = [Counter[str]() for _ in artists]
    for song, song_genres in zip(songs, genres, strict=True):
        for rank, genre in enumerate(song_genres):
            counts[position[song.artist_id]][genre] += max(1, len(song_genres) - rank)
    raw, content = audio_features(songs)
    return CatalogData(
        song_ids=[song.id for song in songs],
        song_artists=[song.artist_id for song in songs],
        song_genres=genres,
        raw_features=raw,
        content=content,
        artists=artists,
        artist_vectors=tag_vectors(counts) if artists else np.zeros((0, 1), dtype=np.float32),
    )


def catalog_songs(table: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    pages = (
        client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :song) AND sk = :meta",
            ExpressionAttributeValues={":song": {"S": "SONG#"}, ":meta": {"S": "META"}},
            ProjectionExpression="pk, artistId, genres, audioFeatures",
        )
    )
    for page in pages:
        items.extend({key: deserializer.deserialize(value) for key, value in item.items()} for item in page["Items"])
    return items


def run(run_id: str, prefix: str, bucket: str, registry_table: str, catalog_table: str) -> dict[str, Any]:
    """One training step; the outcome is also written next to the export for the promote step."""
    s3 = client("s3")
    exported = read_exported(bucket, prefix, s3)
    if not len(exported):
        outcome: dict[str, Any] = {"run": run_id, "promote": False, "reason": "no plays in the window"}
    else:
        catalog = catalog_from_items(catalog_songs(catalog_table))
        outcome = run_training(
            exported,
            catalog,
            registry_table,
            bucket,
            s3,
            load_model=lambda version: artefacts.download(bucket, version, s3),
        )
        outcome["run"] = run_id
    s3.put_object(Bucket=bucket, Key=outcome_key(run_id), Body=json.dumps(outcome).encode())
    return outcome


def main() -> None:
    environment = os.environ
    outcome = run(
        environment["TRAINING_RUN"],
        environment["INTERACTIONS_PREFIX"],
        environment["RECS_MODELS_BUCKET"],
        environment["RECS_REGISTRY_TABLE"],
        environment["CATALOG_TABLE"],
    )
    json.dump(outcome, sys.stdout)


if __name__ == "__main__":
    main()
