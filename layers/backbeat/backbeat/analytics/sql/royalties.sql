-- The royalties' SQL: each closed day compacted once into exactly-once counts, and the month's
-- counts summed over those days. One SELECT per `-- aggregate:` block; standard SQL that Athena and
-- DuckDB both run. Days ({day}, {first_day}, {next_month}: YYYY-MM-DD) are validated by the caller.
--
-- Exactly-once is paid for once per day, where the data lands (docs/decisions.md 48): a play's
-- records all sit in the partition of the day it started (plays/dt=, Firehose partitions on
-- startedAt), so distinct playIds never repeat across days and a month's count is the sum of its
-- days' counts. A play is judged once (decision 30: billable never turns back), and its song,
-- artist and tier are set when the record is created, so "billable in its latest version" is
-- "billable in some version": the distinct billable playIds of plays_raw are what the `plays` view
-- counts, without its window; Firehose's second copy of a record, or a play's earlier versions,
-- add no distinct playId. backbeat.royalties.compaction writes a day again whenever the files
-- under plays/dt=<day>/ are not the ones it was made from (late plays, redeliveries), and the
-- monthly run checks that for every day of the month before it counts.

-- aggregate: compact_listener_day
-- One day's billable plays per tier, listener and song, each playId once (written to billable_listener_daily).
SELECT tier, userid, songid, artistid, count(DISTINCT playid) AS plays
FROM plays_raw
WHERE billable AND dt = '{day}'
GROUP BY tier, userid, songid, artistid

-- aggregate: compact_song_day
-- The same day per tier and song, from the listener rows just written (written to billable_song_daily).
SELECT tier, songid, artistid, CAST(sum(plays) AS BIGINT) AS plays
FROM billable_listener_daily
WHERE dt = '{day}'
GROUP BY tier, songid, artistid

-- aggregate: billable_by_song
-- Pro-rata: the month's plays per tier and song, a plain group-by over the compacted days.
SELECT tier, songid AS songId, artistid AS artistId, CAST(sum(plays) AS BIGINT) AS plays
FROM billable_song_daily
WHERE dt >= '{first_day}' AND dt < '{next_month}'
GROUP BY tier, songid, artistid

-- aggregate: billable_by_listener
-- User-centric: the month's plays per tier, listener and song (each listener's money follows their own plays).
SELECT tier, userid AS userId, songid AS songId, artistid AS artistId, CAST(sum(plays) AS BIGINT) AS plays
FROM billable_listener_daily
WHERE dt >= '{first_day}' AND dt < '{next_month}'
GROUP BY tier, userid, songid, artistid
