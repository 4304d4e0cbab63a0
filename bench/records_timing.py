"""Benchmark whether someone else's order number takes as long to answer as a missing one.

The records backends filter every lookup by the verified customer, so another customer's
order number and a number that does not exist take the same query path. This measures
both (and the customer's own order, for scale) on a seeded SQLite database, interleaved.

Run from the repository root::

    .venv/bin/python bench/records_timing.py [--rounds 400]

Prints p50/p95 per case and writes ``bench/results/records_timing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bot.db.engine import create_db_engine
from bot.db.migrate import upgrade
from bot.db.seed import load_demo_data, seed_database
from bot.records import SqlRecords

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = ROOT / "bench" / "results" / "records_timing.json"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(records: SqlRecords, cases: dict[str, tuple[str, str]], rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (customer_id, number) in cases.items():
            started = time.perf_counter()
            await records.order(customer_id, number)
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def main() -> int:
    """Seed a database, time the three cases, print and store the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    data = load_demo_data(ROOT / "data")
    owner = data.orders[0]
    other = next(c.id for c in data.customers if c.id != owner.customer_id)
    numbers = {o.number for o in data.orders}
    missing = next(str(n) for n in range(199999, 100000, -1) if str(n) not in numbers)
    cases = {
        "own_order": (owner.customer_id, owner.number),
        "someone_elses_order": (other, owner.number),
        "nonexistent_order": (other, missing),
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = create_db_engine(url)
        seed_database(engine, data)
        records = SqlRecords(engine)
        asyncio.run(_measure(records, cases, 20))  # warm up
        timings = asyncio.run(_measure(records, cases, args.rounds))
        engine.dispose()
    summary = {
        name: {"p50_ms": round(statistics.median(v), 3), "p95_ms": round(_percentile(v, 0.95), 3)}
        for name, v in timings.items()
    }
    other_p50 = summary["someone_elses_order"]["p50_ms"]
    missing_p50 = summary["nonexistent_order"]["p50_ms"]
    ratio = round(max(other_p50, missing_p50) / max(min(other_p50, missing_p50), 1e-9), 3)
    for name, figures in summary.items():
        print(f"{name:22s} p50 {figures['p50_ms']:.3f} ms   p95 {figures['p95_ms']:.3f} ms")
    print(f"someone else's vs nonexistent: p50 ratio {ratio} (1.0 = indistinguishable)")
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps({"rounds": args.rounds, "cases": summary, "p50_ratio_other_vs_missing": ratio}, indent=2) + "\n"
    )
    print(f"report: {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
