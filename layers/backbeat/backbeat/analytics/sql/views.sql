-- The lake's deduplicated views, one SELECT per `-- view:` block. Firehose delivers at least once,
-- so a raw table may hold a record twice; every query reads these instead (`queries.with_views`
-- puts them in front of a query as CTEs, so neither engine needs a stored view). The raw tables
-- (events_raw, plays_raw) stay queryable for audit. Standard SQL that Athena (Trino) and DuckDB
-- both run: no engine-specific functions.

-- Copies of a record are the same record, so they share its day (dt), its artist and its song:
-- deduplicating within (dt, artistId, songId, id) is the same as within id, and lets both engines
-- push a query's filter on those columns below the window, so a month's query for one artist
-- deduplicates that artist's month only (docs/performance.md, "Event lake").

-- view: events
-- One row per eventId (the first delivery of it), with flat columns.
SELECT
  eventid AS eventId, playid AS playId, type, songid AS songId, artistid AS artistId, genres,
  userid AS userId, tier, country, deviceid AS deviceId, devicetype AS deviceType,
  context.type AS contextType, context.id AS contextId,
  positionms AS positionMs, playedms AS playedMs, durationms AS durationMs, bitratekbps AS bitrateKbps,
  occurredat AS occurredAt, receivedat AS receivedAt, dt
FROM (
  SELECT raw.*, row_number() OVER (PARTITION BY raw.dt, raw.artistid, raw.songid, raw.eventid ORDER BY raw.receivedat) AS delivery
  FROM events_raw raw
) deliveries
WHERE delivery = 1

-- view: plays
-- One row per playId: its latest version (a play record changes as its events arrive).
SELECT
  playid AS playId, userid AS userId, songid AS songId, artistid AS artistId, genres, tier, country,
  deviceid AS deviceId, devicetype AS deviceType, contexttype AS contextType, contextid AS contextId,
  startedat AS startedAt, lasteventat AS lastEventAt, receivedat AS receivedAt,
  playedms AS playedMs, durationms AS durationMs, bitratekbps AS bitrateKbps,
  ended, billable, reason, events, version, dt
FROM (
  SELECT raw.*, row_number() OVER (PARTITION BY raw.dt, raw.artistid, raw.songid, raw.playid
    ORDER BY raw.version DESC, raw.lasteventat DESC) AS latest
  FROM plays_raw raw
) versions
WHERE latest = 1
