"""The training export: the lake's plays of the window, one row per listener and song, weighted by
listening time in full plays (a play counts its share of the song, at most 1), bot plays left out;
unloaded as Parquet under training/<run>/interactions/ of the models bucket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backbeat.analytics.engines import LakeEngine
from backbeat.analytics.queries import with_views

WINDOW_DAYS = 90

EXPORT_SQL = """
SELECT userId AS user_id, songId AS song_id,
       SUM(LEAST(CAST(playedMs AS DOUBLE) / GREATEST(COALESCE(durationMs, 180000), 1), 1.0)) AS weight,
       MIN(startedAt) AS first_played, MAX(startedAt) AS last_played
FROM plays
WHERE dt >= '{since}' AND playedMs > 0 AND (reason IS NULL OR reason NOT LIKE 'bot:%')
GROUP BY userId, songId
"""


def export_sql(now: datetime, window_days: int = WINDOW_DAYS) -> str:
    since = (now - timedelta(days=window_days)).date().isoformat()
    return with_views(EXPORT_SQL.replace("{since}", since))


def export_interactions(engine: LakeEngine, s3: Any, bucket: str, run: str, now: datetime) -> str:
    """Unload the window's interactions; answers the prefix (emptied first: a retried step rewrites it)."""
    prefix = f"training/{run}/interactions/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    for item in listed:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    engine.unload(export_sql(now), bucket, prefix)
    return prefix
