"""The month's royalty computation over synthetic plays as they sit after landing, against a bare
DuckDB group-by over the landed files; and what landing them exactly-once costs per day.

    .venv/bin/python bench/royalties.py [--plays 100000000] [--dir /tmp/backbeat-royalties-bench]

Writes the synthetic month once (kept in --dir for re-runs; --regenerate to write it again), with
DuckDB itself: Parquet under plays/dt=YYYY-MM-DD/ with the columns of the Glue table plays_raw, the
31 days of October 2026, every play billable (a month's non-billable plays are filtered by a
predicate that both queries would pay alike). Its shape: 100,000 songs of 12,500 artists with a
steep skew (song = floor(100,000 * u^6): the top 1 % of songs take about half the plays), 2 M
listeners (skewed too; 45 % premium), and 0.1 % of the plays delivered a second time (Firehose's
at-least-once), which must be counted once.

Then, each in a fresh process (so its peak RSS is its own):
- compact: what landing costs (docs/decisions.md 48): each day compacted once, as the daily job does
  it (royalties.sql's `compact_listener_day` over the day's play files, then `compact_song_day` over
  the listener counts just written), into royalties/billable_*/dt=<day>/ beside plays/ in --dir,
  with the record of the files each day was made from; its wall time per day;
- bare: ``SELECT songid, tier, count(*) FROM <the plays files> GROUP BY songid, tier`` (the floor);
- royalties: the whole monthly computation over the month as it sits after landing: the check that
  every day's compaction is current (the plays files and the compacted files are the ones recorded,
  as the monthly run checks before it counts), the royalty SQL (`billable_by_song`: a sum over the
  compacted days), then the money (every tier's pool over the songs and their synthetic splits,
  largest remainder to the cent) and one statement CSV per holder, in memory.
bare and royalties run --runs times in a row (the last run is the figure: the files are in the page
cache for both alike). Prints wall time and peak RSS for each, the ratio of the royalty run's total
to the bare query, and the compaction's cost per day and per month beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "backbeat"))

import duckdb  # noqa: E402

MONTH = "2026-10"
SONGS = 100_000
USERS = 2_000_000
RUNS = 2  # --runs: each measure's runs in its process (the last is the figure)
MEMORY_LIMIT = "6GB"  # a 2-core machine shared with others: DuckDB spills to --dir beyond this

GENERATE = f"""
COPY (
  SELECT
    'play-' || CAST(p AS VARCHAR) AS playid,
    'user-' || CAST(listener AS VARCHAR) AS userid,
    'song-' || lpad(CAST(song AS VARCHAR), 17, '0') AS songid,
    'artist-' || lpad(CAST(song // 8 AS VARCHAR), 5, '0') AS artistid,
    ['pop'] AS genres,
    CASE WHEN listener % 20 < 9 THEN 'premium' ELSE 'free' END AS tier,
    'SE' AS country, 'device-1' AS deviceid, 'mobile' AS devicetype, 'album' AS contexttype, 'ctx' AS contextid,
    started AS startedat, started AS lasteventat, started AS receivedat,
    CAST(180000 AS BIGINT) AS playedms, CAST(200000 AS BIGINT) AS durationms, CAST(160 AS BIGINT) AS bitratekbps,
    'completed' AS ended, true AS billable, 'billable' AS reason, CAST(3 AS BIGINT) AS events,
    CAST(2 AS BIGINT) AS version,
    strftime(started, '%Y-%m-%d') AS dt
  FROM (
    SELECT
      p,
      CAST(floor(pow(random(), 6) * {SONGS}) AS BIGINT) AS song,
      CAST(floor(pow(random(), 2) * {USERS}) AS BIGINT) AS listener,
      TIMESTAMP '2026-10-01 00:00:00' + to_seconds(CAST(floor(random() * 31 * 86400) AS BIGINT)) AS started
    FROM range(?) t(p)
  )
) TO '{{target}}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (dt), FILENAME_PATTERN '{{pattern}}',
  OVERWRITE_OR_IGNORE)
"""


def generate(directory: Path, plays: int) -> None:
    started = time.perf_counter()
    target = directory / "plays"
    target.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{directory / 'spill'}'")
    connection.execute("SELECT setseed(0.42)")
    connection.execute(GENERATE.format(target=target, pattern="firehose_{i}"), [plays])
    files = str(target / "*" / "firehose_*.parquet")
    # Firehose delivered 0.1 % of the records a second time, in files of their own.
    connection.execute(
        f"COPY (SELECT * FROM read_parquet('{files}', hive_partitioning = true) USING SAMPLE 0.1 PERCENT "
        f"(bernoulli, 7)) TO '{target}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (dt), "
        "FILENAME_PATTERN 'redelivered_{i}', OVERWRITE_OR_IGNORE)"
    )
    size = sum(path.stat().st_size for path in target.rglob("*.parquet"))
    print(
        f"wrote {plays:,} billable plays (+0.1 % redelivered) in 31 day partitions, "
        f"{size / 2**20:,.0f} MiB of Parquet, in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would count the parent's at the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def connect(directory: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        f"SET threads = 2; SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{directory / 'spill'}'"
    )
    return connection


def files(directory: Path) -> str:
    return str(directory / "plays" / "*" / "*.parquet")


def month_days() -> list[str]:
    from backbeat.royalties.compaction import month_days as days

    return [day.isoformat() for day in days(MONTH)]


def digest(paths: list[Path]) -> str:
    """What the lake's S3 listing gives the monthly run (key and ETag), here each file's path, size
    and modification time."""
    import hashlib

    lines = sorted(f"{path} {path.stat().st_size} {path.stat().st_mtime_ns}" for path in paths)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def day_files(directory: Path, dataset: str, day: str) -> list[Path]:
    return sorted((directory / dataset / f"dt={day}").glob("*.parquet"))


COMPACTED = ("royalties/billable_listener", "royalties/billable_song")


def run_compact(directory: Path) -> dict[str, object]:
    """Each day compacted as the daily job does it: the same two blocks of royalties.sql, over
    that day's partition only (Athena's partition projection prunes alike)."""
    from datetime import date

    from backbeat.royalties.compaction import day_sql

    connection = connect(directory)
    per_day = []
    for day in month_days():
        started = time.perf_counter()
        sources = day_files(directory, "plays", day)
        listing = ", ".join(f"'{path}'" for path in sources)
        connection.execute(
            f"CREATE OR REPLACE VIEW plays_raw AS SELECT *, '{day}' AS dt FROM read_parquet([{listing}])"
        )
        for name, dataset in zip(("compact_listener_day", "compact_song_day"), COMPACTED, strict=True):
            target = directory / dataset / f"dt={day}"
            target.mkdir(parents=True, exist_ok=True)
            for old in target.glob("*.parquet"):
                old.unlink()
            sql = day_sql(name, date.fromisoformat(day))
            connection.execute(
                f"COPY ({sql}) TO '{target / 'part-00000.parquet'}' (FORMAT PARQUET, COMPRESSION SNAPPY)"
            )
            if dataset.endswith("listener"):
                connection.execute(
                    "CREATE OR REPLACE VIEW billable_listener_daily AS SELECT *, "
                    f"'{day}' AS dt FROM read_parquet('{target / 'part-00000.parquet'}')"
                )
        outputs = [path for dataset in COMPACTED for path in day_files(directory, dataset, day)]
        record = {"sources": digest(sources), "outputs": digest(outputs)}
        (directory / "royalties" / "compacted").mkdir(parents=True, exist_ok=True)
        (directory / "royalties" / "compacted" / f"dt={day}.json").write_text(json.dumps(record))
        per_day.append(time.perf_counter() - started)
    rows = connection.execute(
        f"SELECT count(*), sum(plays) FROM read_parquet('{directory / COMPACTED[0] / '*' / '*.parquet'}')"
    ).fetchone()
    assert rows is not None
    return {"seconds": per_day, "listenerRows": int(rows[0]), "plays": int(rows[1])}


def run_bare(directory: Path) -> dict[str, object]:
    connection = connect(directory)
    sql = f"SELECT songid, tier, count(*) AS plays FROM read_parquet('{files(directory)}') GROUP BY songid, tier"
    seconds, rows = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        rows = connection.execute(sql).fetchall()
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds, "rows": len(rows), "plays": sum(row[2] for row in rows)}


def days_are_current(directory: Path) -> None:
    """The monthly run's check: every day's compaction made from the files the day holds now."""
    for day in month_days():
        record = json.loads((directory / "royalties" / "compacted" / f"dt={day}.json").read_text())
        outputs = [path for dataset in COMPACTED for path in day_files(directory, dataset, day)]
        current = {"sources": digest(day_files(directory, "plays", day)), "outputs": digest(outputs)}
        assert record == current, f"{day} is not current: run the compaction"


def run_royalties(directory: Path) -> dict[str, object]:
    from decimal import Decimal

    from backbeat.royalties.allocation import allocate, pro_rata_weights
    from backbeat.royalties.counting import royalty_sql
    from backbeat.royalties.money import percent_of
    from backbeat.royalties.splits import SplitsRegister
    from backbeat.royalties.statements import statements_of

    connection = connect(directory)
    song_files = str(directory / COMPACTED[1] / "*" / "*.parquet")
    connection.execute(
        f"CREATE VIEW billable_song_daily AS SELECT * FROM read_parquet('{song_files}', hive_partitioning = true, "
        "hive_types = {'dt': 'VARCHAR'})"
    )
    sql = royalty_sql("billable_by_song", MONTH)
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        days_are_current(directory)
        checked = time.perf_counter()
        rows = [(str(t), str(s), str(a), int(p)) for t, s, a, p in connection.execute(sql).fetchall()]
        counted = time.perf_counter()
        revenue = {"premium": 450_000_000, "free": 35_000_000}  # $4.5 M and $350 k, in cents
        pools = {tier: percent_of(amount, Decimal(70)) for tier, amount in revenue.items()}
        allocation = allocate(revenue, pools, pro_rata_weights(rows), SplitsRegister(synthetic=True), 20)
        statements = statements_of(allocation)
        finished = time.perf_counter()
        paid = {tier: result.total_paid for tier, result in allocation.tiers.items()}
        assert paid == pools, f"payments {paid} differ from the pools {pools}"
        runs.append(
            {
                "check": checked - started,
                "sql": counted - checked,
                "money": finished - counted,
                "total": finished - started,
                "plays": sum(row[3] for row in rows),
                "songs": len({row[1] for row in rows}),
                "holders": len(statements),
                "statementBytes": sum(len(body) for body in statements.values()),
            }
        )
    return {"runs": runs}


def child(directory: Path, measure: str) -> None:
    runs = {"compact": run_compact, "bare": run_bare, "royalties": run_royalties}
    result = runs[measure](directory)
    print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=100_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/backbeat-royalties-bench"))
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--runs", type=int, default=2, help="runs of each measure (default 2; the last counts)")
    parser.add_argument("--measure", choices=["compact", "bare", "royalties"], help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    directory = args.dir / f"{args.plays}"
    global RUNS
    RUNS = args.runs
    if args.measure:
        child(directory, args.measure)
        return
    if args.regenerate or not (directory / "plays").is_dir():
        generate(directory, args.plays)
    print(
        f"duckdb {duckdb.__version__}; month {MONTH}, {args.plays:,} billable plays, 2 threads, {MEMORY_LIMIT}",
        flush=True,
    )

    def measure(name: str) -> dict[str, Any]:
        command = [sys.executable, __file__, "--plays", str(args.plays), "--dir", str(args.dir)]
        process = subprocess.run(
            [*command, "--runs", str(args.runs), "--measure", name], capture_output=True, text=True, check=False
        )
        if process.returncode:
            sys.exit(f"the {name} measure failed:\n{process.stderr}")
        return dict(json.loads(process.stdout.strip().splitlines()[-1]))

    compact = measure("compact")
    per_day = compact["seconds"]
    print(
        f"landing: each day compacted once  {sum(per_day):.2f} s for 31 days, {sum(per_day) / len(per_day):.2f} s a "
        f"day (min {min(per_day):.2f}, max {max(per_day):.2f}); peak RSS {compact['peak_rss_mib']:,.0f} MiB; "
        f"{compact['plays']:,} plays (exactly once) in {compact['listenerRows']:,} listener-song-day rows",
        flush=True,
    )
    bare = measure("bare")
    print(
        f"bare GROUP BY songid, tier     runs {', '.join(f'{s:.2f}' for s in bare['seconds'])} s; "
        f"peak RSS {bare['peak_rss_mib']:,.0f} MiB; {bare['rows']:,} rows, {bare['plays']:,} plays (duplicates too)",
        flush=True,
    )
    royalty = measure("royalties")
    for index, run in enumerate(royalty["runs"], start=1):
        print(
            f"royalties run {index}: days current {run['check']:.2f} s + SQL {run['sql']:.2f} s + money and "
            f"statements {run['money']:.2f} s = {run['total']:.2f} s; {run['plays']:,} plays of {run['songs']:,} "
            f"songs, {run['holders']:,} statements ({run['statementBytes'] / 2**20:,.1f} MiB)"
        )
    print(f"royalties peak RSS {royalty['peak_rss_mib']:,.0f} MiB (the bare query's: {bare['peak_rss_mib']:,.0f} MiB)")
    warm_bare, warm_royalty = bare["seconds"][-1], royalty["runs"][-1]
    print(
        f"ratio to the bare group-by over the landed plays (last runs): SQL {warm_royalty['sql'] / warm_bare:.2f}x, "
        f"whole monthly computation {warm_royalty['total'] / warm_bare:.2f}x; "
        f"peak memory {royalty['peak_rss_mib'] / bare['peak_rss_mib']:.2f}x",
        flush=True,
    )
    print(
        f"landing's cost beside it: {sum(per_day) / len(per_day) / warm_bare:.2f}x the bare group-by a day, "
        f"{sum(per_day) / warm_bare:.2f}x for the month's 31 days (spread over the month, as the days close)"
    )


if __name__ == "__main__":
    main()
