-- The daily aggregates of one day ({day}: a YYYY-MM-DD that the caller has validated), one SELECT
-- per `-- aggregate:` block; each becomes aggregates/<name>/dt={day}/ (template.yaml's Glue tables).
-- Rows: the total of a song (or artist) for the day, with country, deviceType and tier 'all', and
-- its breakdown by country x deviceType x tier. Listeners are distinct listeners within the row.
-- A play counts on the day it started (plays/dt=...), as its latest version (the plays view).

-- aggregate: daily_song
SELECT
  songId, artistId,
  CASE WHEN grouping(country) = 1 THEN 'all' ELSE country END AS country,
  CASE WHEN grouping(deviceType) = 1 THEN 'all' ELSE deviceType END AS deviceType,
  CASE WHEN grouping(tier) = 1 THEN 'all' ELSE tier END AS tier,
  count(*) AS plays,
  CAST(sum(CASE WHEN billable THEN 1 ELSE 0 END) AS BIGINT) AS billablePlays,
  count(DISTINCT userId) AS listeners,
  count(DISTINCT CASE WHEN billable THEN userId END) AS billableListeners,
  CAST(sum(CASE WHEN ended = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed,
  CAST(sum(CASE WHEN ended = 'skipped' THEN 1 ELSE 0 END) AS BIGINT) AS skipped,
  CAST(sum(CASE WHEN ended = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS completionRate,
  CAST(sum(CASE WHEN ended = 'skipped' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS skipRate,
  CAST(sum(playedMs) AS BIGINT) AS playedMs
FROM plays
WHERE dt = '{day}'
GROUP BY GROUPING SETS ((songId, artistId), (songId, artistId, country, deviceType, tier))

-- aggregate: daily_artist
SELECT
  artistId,
  CASE WHEN grouping(country) = 1 THEN 'all' ELSE country END AS country,
  CASE WHEN grouping(deviceType) = 1 THEN 'all' ELSE deviceType END AS deviceType,
  CASE WHEN grouping(tier) = 1 THEN 'all' ELSE tier END AS tier,
  count(*) AS plays,
  CAST(sum(CASE WHEN billable THEN 1 ELSE 0 END) AS BIGINT) AS billablePlays,
  count(DISTINCT userId) AS listeners,
  count(DISTINCT CASE WHEN billable THEN userId END) AS billableListeners,
  count(DISTINCT songId) AS songs,
  CAST(sum(CASE WHEN ended = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed,
  CAST(sum(CASE WHEN ended = 'skipped' THEN 1 ELSE 0 END) AS BIGINT) AS skipped,
  CAST(sum(CASE WHEN ended = 'completed' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS completionRate,
  CAST(sum(CASE WHEN ended = 'skipped' THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS skipRate,
  CAST(sum(playedMs) AS BIGINT) AS playedMs
FROM plays
WHERE dt = '{day}'
GROUP BY GROUPING SETS ((artistId), (artistId, country, deviceType, tier))
