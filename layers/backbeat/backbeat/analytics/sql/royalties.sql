-- The monthly royalties' counts: billable plays of one month ({first_day} <= dt < {next_month}, both
-- YYYY-MM-DD that the caller has validated), read through the deduplicated `plays` view (a play
-- counts once, as its latest version, in the month it started). One SELECT per `-- aggregate:`
-- block; standard SQL that Athena and DuckDB both run.

-- aggregate: billable_by_song
-- Pro-rata: plays per tier and song.
SELECT tier, songId, artistId, count(*) AS plays
FROM plays
WHERE billable AND dt >= '{first_day}' AND dt < '{next_month}'
GROUP BY tier, songId, artistId

-- aggregate: billable_by_listener
-- User-centric: plays per tier, listener and song (each listener's money follows their own plays).
SELECT tier, userId, songId, artistId, count(*) AS plays
FROM plays
WHERE billable AND dt >= '{first_day}' AND dt < '{next_month}'
GROUP BY tier, userId, songId, artistId
