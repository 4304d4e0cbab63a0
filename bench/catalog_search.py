"""Benchmark product search: top-1 accuracy on real queries and latency on a 10,000-product catalog.

Run from the repository root::

    .venv/bin/python bench/catalog_search.py            # full run, exits 1 if a target is missed
    .venv/bin/python bench/catalog_search.py --quick    # small latency sample, never fails on targets

Prints the figures and writes them to ``bench/results/catalog_search.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.search import ProductIndex
from bot.db.demo_types import ProductRecord
from bot.db.seed import load_demo_data

ROOT = Path(__file__).resolve().parent.parent
QUERIES_FILE = ROOT / "bench" / "data" / "product_queries.yml"
RESULTS_FILE = ROOT / "bench" / "results" / "catalog_search.json"
ACCURACY_TARGET = 0.95
P95_TARGET_MS = 5.0
MIN_QUERIES = 150
MIN_HARD_SHARE = 0.30
KINDS = ("exact", "typo", "informal", "sentence")
HARD_KINDS = ("typo", "informal")
SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "zu", "pel", "dri", "an", "qua", "sol", "ne", "bri", "ox")
CITIES = ("berlin", "hamburg", "munich", "vienna", "paris", "amsterdam")


@dataclass(frozen=True)
class SyntheticProduct:
    """A generated catalog entry shaped like a real product (only what search reads)."""

    sku: str
    name: str
    category: str
    model_number: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class LabelledQuery:
    """A customer query and the product a correct search ranks first."""

    query: str
    sku: str
    kind: str


def load_queries(path: Path) -> list[LabelledQuery]:
    """Read the labelled queries.

    Args:
        path: The YAML file with a ``queries`` list of ``{query, sku, kind}``.

    Returns:
        The queries, in file order.

    Raises:
        ValueError: A query has no kind or one not in :data:`KINDS`.
    """
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    queries = [LabelledQuery(str(item["query"]), str(item["sku"]), str(item.get("kind"))) for item in items]
    for item in queries:
        if item.kind not in KINDS:
            raise ValueError(f"{path}: query {item.query!r} has kind {item.kind!r}, expected one of {', '.join(KINDS)}")
    return queries


def accuracy(index: ProductIndex, queries: Sequence[LabelledQuery]) -> dict[str, Any]:
    """Measure top-1 accuracy, overall and per kind of query.

    Args:
        index: The index over the real catalog.
        queries: The labelled queries.

    Returns:
        Totals, the accuracy, count, share and accuracy per kind, the typo+informal share and
        the misses with what ranked first.
    """
    misses = []
    by_kind: dict[str, dict[str, Any]] = {kind: {"count": 0, "correct": 0} for kind in KINDS}
    for item in queries:
        found = index.search(item.query, limit=1)
        stats = by_kind[item.kind]
        stats["count"] += 1
        if found and found[0].sku == item.sku:
            stats["correct"] += 1
        else:
            got = found[0].sku if found else None
            misses.append({"query": item.query, "kind": item.kind, "expected": item.sku, "got": got})
    total = len(queries)
    for stats in by_kind.values():
        stats["share"] = round(stats["count"] / total, 4) if total else 0.0
        stats["top1"] = round(stats["correct"] / stats["count"], 4) if stats["count"] else None
    correct = total - len(misses)
    hard = sum(by_kind[kind]["count"] for kind in HARD_KINDS)
    return {
        "total": total,
        "correct": correct,
        "top1": round(correct / total, 4) if total else 0.0,
        "by_kind": by_kind,
        "typo_informal_share": round(hard / total, 4) if total else 0.0,
        "misses": misses,
    }


def _series_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize())
    return sorted(words)


def synthetic_catalog(products: Sequence[ProductRecord], size: int, seed: int = 7) -> list[SyntheticProduct]:
    """Generate variants of the real products with new model numbers, names and aliases.

    Args:
        products: The real catalog.
        size: How many products to generate.
        seed: Random seed (the catalog is deterministic for a seed).

    Returns:
        ``size`` products with unique SKUs and model numbers.
    """
    rng = random.Random(seed)
    series = _series_words(rng, 300)
    catalog = []
    for i in range(size):
        base = products[i % len(products)]
        family = base.model_number.split("-")[0]
        letters = "".join(rng.choice("ABCDEGHKMNPRSTX") for _ in range(2))
        code = f"{letters}{1000 + i}"
        word = series[(i * 7) % len(series)]
        kept = [w for w in base.name.split() if not any(ch.isdigit() for ch in w)][:3]
        name = " ".join([*kept[:2], word, code, *kept[2:]])
        aliases = (f"{word.lower()} {1000 + i}", f"{word.lower()} {base.category}")
        catalog.append(SyntheticProduct(f"{family}-{code}-X", name, base.category, f"{family}-{code}", aliases))
    return catalog


def _typo(word: str, rng: random.Random) -> str:
    pos = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "swap", "double", "replace"))
    if kind == "drop":
        return word[:pos] + word[pos + 1 :]
    if kind == "swap":
        return word[: pos - 1] + word[pos] + word[pos - 1] + word[pos + 1 :]
    if kind == "double":
        return word[:pos] + word[pos] + word[pos:]
    return word[:pos] + rng.choice("aeioustr") + word[pos + 1 :]


def latency_queries(catalog: Sequence[SyntheticProduct], count: int, seed: int = 11) -> list[str]:
    """Generate search queries against a synthetic catalog, about a third of them with typos.

    Args:
        catalog: The synthetic products.
        count: How many queries.
        seed: Random seed.

    Returns:
        The queries.
    """
    rng = random.Random(seed)
    queries = []
    for i in range(count):
        product = rng.choice(catalog)
        words = product.name.split()
        longest = max(words, key=len)
        typo_name = " ".join(_typo(w, rng) if w == longest else w for w in words)
        forms = (
            product.model_number,
            product.model_number.lower().replace("-", " "),
            product.name,
            product.aliases[0],
            typo_name,
            f"how much is the {product.aliases[1]} in {rng.choice(CITIES)}?",
            f"is the {typo_name.lower()} in stock",
            _typo(product.model_number.replace("-", ""), rng),
        )
        queries.append(forms[i % len(forms)])
    return queries


def latency(index: ProductIndex, queries: Sequence[str]) -> dict[str, float]:
    """Time ``search`` per query.

    Args:
        index: The index to query.
        queries: The queries.

    Returns:
        Number of queries and p50, p95 and mean latency in milliseconds.
    """
    for query in queries[:20]:
        index.search(query)
    timings = []
    for query in queries:
        start = time.perf_counter()
        index.search(query)
        timings.append((time.perf_counter() - start) * 1000.0)
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * len(timings)) - 1)]
    return {
        "queries": len(timings),
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(p95, 3),
        "mean_ms": round(statistics.fmean(timings), 3),
    }


def run(quick: bool, output: Path) -> dict[str, Any]:
    """Run the benchmark and write its JSON report.

    Args:
        quick: Use a small latency sample (for smoke tests).
        output: Where to write the JSON report.

    Returns:
        The report.
    """
    products = load_demo_data(ROOT / "data").products
    report: dict[str, Any] = {
        "quick": quick,
        "accuracy": accuracy(ProductIndex.from_products(products), load_queries(QUERIES_FILE)),
    }
    size, count = (2_000, 100) if quick else (10_000, 1_000)
    catalog = synthetic_catalog(products, size)
    start = time.perf_counter()
    index = ProductIndex.from_products(catalog)
    build_s = time.perf_counter() - start
    report["latency"] = {
        "catalog_size": size,
        "build_s": round(build_s, 3),
        **latency(index, latency_queries(catalog, count)),
    }
    report["targets"] = {
        "top1": ACCURACY_TARGET,
        "p95_ms": P95_TARGET_MS,
        "queries": MIN_QUERIES,
        "typo_informal_share": MIN_HARD_SHARE,
    }
    report["meets_targets"] = {
        "top1": report["accuracy"]["top1"] >= ACCURACY_TARGET,
        "p95_ms": report["latency"]["p95_ms"] <= P95_TARGET_MS,
        "queries": report["accuracy"]["total"] >= MIN_QUERIES,
        "typo_informal_share": report["accuracy"]["typo_informal_share"] >= MIN_HARD_SHARE,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        0, or 1 when a full run misses a target (accuracy, p95 latency, at least
        :data:`MIN_QUERIES` queries, typo+informal share of at least :data:`MIN_HARD_SHARE`).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small latency sample; do not fail on targets")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="JSON report path")
    args = parser.parse_args(argv)
    report = run(args.quick, args.output)
    acc, lat = report["accuracy"], report["latency"]
    print(f"top-1 accuracy: {acc['top1']:.1%} ({acc['correct']}/{acc['total']}), target {ACCURACY_TARGET:.0%}")
    for kind, stats in acc["by_kind"].items():
        top1 = f"{stats['top1']:.1%}" if stats["top1"] is not None else "n/a"
        print(f"  {kind:<9} {stats['count']:>4} queries ({stats['share']:.1%}), top-1 {top1}")
    print(
        f"queries: {acc['total']} (min {MIN_QUERIES}), typo+informal share {acc['typo_informal_share']:.1%} "
        f"(min {MIN_HARD_SHARE:.0%})"
    )
    for miss in acc["misses"]:
        print(f"  miss ({miss['kind']}): {miss['query']!r} expected {miss['expected']} got {miss['got']}")
    print(
        f"search latency on {lat['catalog_size']} products over {lat['queries']} queries: "
        f"p50 {lat['p50_ms']:.3f} ms, p95 {lat['p95_ms']:.3f} ms (target {P95_TARGET_MS} ms), "
        f"mean {lat['mean_ms']:.3f} ms, index build {lat['build_s']:.2f} s"
    )
    print(f"report: {args.output}")
    if args.quick:
        return 0
    missed = [name for name, met in report["meets_targets"].items() if not met]
    if missed:
        print(f"FAILED targets: {', '.join(missed)}", file=sys.stderr)
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
