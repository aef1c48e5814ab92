-- The monthly royalties' counts: the billable plays that started in one month ({first_day} <= dt <
-- {next_month}, both YYYY-MM-DD that the caller has validated). One SELECT per `-- aggregate:`
-- block; standard SQL that Athena and DuckDB both run.
--
-- These read the raw play records (plays_raw) and count distinct billable playIds, which is the
-- count of the `plays` view (each play's latest version, billable) without its window: a play is
-- judged once (docs/decisions.md 30: billable never turns back), and its song, artist and tier are
-- set when the record is created, so "billable in its latest version" is "billable in some version",
-- and Firehose's second copy of a record, or a play's earlier versions, add no distinct playId.
-- The view's window over a month of plays costs several times this count (docs/performance.md,
-- Royalties: 3.5x over 100 M plays).

-- aggregate: billable_by_song
-- Pro-rata: plays per tier and song.
SELECT tier, songid AS songId, artistid AS artistId, count(DISTINCT playid) AS plays
FROM plays_raw
WHERE billable AND dt >= '{first_day}' AND dt < '{next_month}'
GROUP BY tier, songid, artistid

-- aggregate: billable_by_listener
-- User-centric: plays per tier, listener and song (each listener's money follows their own plays).
SELECT tier, userid AS userId, songid AS songId, artistid AS artistId, count(DISTINCT playid) AS plays
FROM plays_raw
WHERE billable AND dt >= '{first_day}' AND dt < '{next_month}'
GROUP BY tier, userid, songid, artistid
