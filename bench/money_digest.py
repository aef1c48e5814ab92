"""The royalty money step's fingerprint and time: allocation and statements over fixed synthetic
inputs, as sha256 digests of every statement and every holder's cents per tier, against the digests
recorded before the step was last rewritten (a faster money step must pay exactly the same cents
and write exactly the same bytes).

    .venv/bin/python bench/money_digest.py [--record]

Two cases: pro-rata over 2 tiers x 100,000 songs (8 songs an artist, a steep skew) with the demo's
synthetic splits, as bench/royalties.py feeds the step at 100 M plays; and user-centric over 300,000
listener rows of 20,000 songs (premium by listener, free pro-rata) with some songs' splits imported
(odd thirds, points) and the rest synthetic. Exits 1 if a digest differs.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "backbeat"))

from backbeat.royalties.allocation import Allocation, allocate, pro_rata_weights, user_centric_weights  # noqa: E402
from backbeat.royalties.money import percent_of  # noqa: E402
from backbeat.royalties.splits import Split, SplitsRegister  # noqa: E402
from backbeat.royalties.statements import statements_of  # noqa: E402

RECORDED = {
    "pro-rata": "d635dd5c214e08a68f2e7617653beca17d2b9f06cfdb8f43d42f38ad81a8f7c0",
    "user-centric": "b94aaf3178b395d424452a48da8b9e73ecd03e1ba5f87f21ff107138ee03533a",
}
REVENUE = {"premium": 450_000_000, "free": 35_000_000}


def pro_rata_case() -> tuple[Allocation, float]:
    rng = random.Random(1)
    rows = [
        (tier, f"song-{s:06d}", f"artist-{s // 8:05d}", int(1000 * rng.random() ** 6 * 500) + 1)
        for tier in ("premium", "free")
        for s in range(100_000)
    ]
    pools = {tier: percent_of(amount, Decimal(70)) for tier, amount in REVENUE.items()}
    started = time.perf_counter()
    allocation = allocate(REVENUE, pools, pro_rata_weights(rows), SplitsRegister(synthetic=True), 20)
    return allocation, started


def user_centric_case() -> tuple[Allocation, float]:
    rng = random.Random(2)
    listens: dict[tuple[str, str, str, str], int] = {}
    for _ in range(300_000):
        user = int(rng.random() ** 2 * 30_000)
        song = int(rng.random() ** 4 * 20_000)
        tier = "premium" if user % 20 < 9 else "free"
        key = (tier, f"user-{user}", f"song-{song:05d}", f"artist-{song // 6:05d}")
        listens[key] = listens.get(key, 0) + rng.randint(1, 5)
    imported: dict[str, list[Split]] = {}
    for song in range(0, 20_000, 7):  # every 7th song's splits imported: odd thirds and points
        imported[f"song-{song:05d}"] = [
            Split("publishing", f"writer-{song % 97}", "songwriter", 333_334),
            Split("publishing", f"writer-{(song + 1) % 97}", "songwriter", 333_333),
            Split("publishing", f"publisher-{song % 5}", "publisher", 333_333),
            Split("recording", f"artist-{song // 6:05d}", "artist", 180_000),
            Split("recording", f"label-{song % 11}", "label", 790_000),
            Split("recording", f"producer-{song % 13}", "producer", 30_000),
        ]
    register = SplitsRegister(imported, synthetic=True)
    pools = {tier: percent_of(amount, Decimal(70)) for tier, amount in REVENUE.items()}
    counts: dict[tuple[str, str, str], int] = {}
    for (tier, _user, song, artist), plays in listens.items():
        counts[(tier, song, artist)] = counts.get((tier, song, artist), 0) + plays
    tallies = pro_rata_weights([(t, s, a, p) for (t, s, a), p in sorted(counts.items())])
    premium = [(u, s, a, p) for (t, u, s, a), p in sorted(listens.items()) if t == "premium"]
    started = time.perf_counter()
    tallies["premium"] = user_centric_weights(pools["premium"], premium)
    return allocate(REVENUE, pools, tallies, register, 20), started


def digest(allocation: Allocation) -> tuple[str, float]:
    """Every statement's bytes and every holder's cents per tier (and the tiers' results)."""
    started = time.perf_counter()
    statements = statements_of(allocation)
    seconds = time.perf_counter() - started
    fingerprint = hashlib.sha256()
    for tier in sorted(allocation.tiers):
        result = allocation.tiers[tier]
        fingerprint.update(repr((tier, result.revenue, result.pool, result.billable_plays)).encode())
        fingerprint.update(repr((result.total_paid, result.statements)).encode())
    for holder in sorted(statements):
        cents = sorted(allocation.payment(holder).items())
        fingerprint.update(f"{holder}\0{cents}\0{allocation.total(holder)}\0".encode())
        fingerprint.update(hashlib.sha256(statements[holder]).digest())
    return fingerprint.hexdigest(), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="print the digests without comparing them")
    args = parser.parse_args()
    failed = False
    for name, case in (("pro-rata", pro_rata_case), ("user-centric", user_centric_case)):
        allocation, started = case()
        allocated = time.perf_counter() - started
        value, statements = digest(allocation)
        same = value == RECORDED[name]
        failed |= not same and not args.record
        verdict = "" if args.record else (" same" if same else " DIFFERS")
        print(f"{name}: allocate {allocated:.2f} s, statements {statements:.2f} s, {len(allocation.holders)} holders")
        print(f"  {value}{verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
