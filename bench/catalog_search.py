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


def load_queries(path: Path) -> list[tuple[str, str]]:
    """Read the labelled queries.

    Args:
        path: The YAML file with a ``queries`` list of ``{query, sku}``.

    Returns:
        (query, expected SKU) pairs.
    """
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    return [(str(item["query"]), str(item["sku"])) for item in items]


def accuracy(index: ProductIndex, queries: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Measure top-1 accuracy.

    Args:
        index: The index over the real catalog.
        queries: (query, expected SKU) pairs.

    Returns:
        Totals, the accuracy and the misses with what ranked first.
    """
    misses = []
    for query, sku in queries:
        found = index.search(query, limit=1)
        if not found or found[0].sku != sku:
            misses.append({"query": query, "expected": sku, "got": found[0].sku if found else None})
    correct = len(queries) - len(misses)
    return {"total": len(queries), "correct": correct, "top1": round(correct / len(queries), 4), "misses": misses}


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
    report["targets"] = {"top1": ACCURACY_TARGET, "p95_ms": P95_TARGET_MS}
    report["meets_targets"] = {
        "top1": report["accuracy"]["top1"] >= ACCURACY_TARGET,
        "p95_ms": report["latency"]["p95_ms"] <= P95_TARGET_MS,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        0, or 1 when a full run misses a target.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small latency sample; do not fail on targets")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="JSON report path")
    args = parser.parse_args(argv)
    report = run(args.quick, args.output)
    acc, lat = report["accuracy"], report["latency"]
    print(f"top-1 accuracy: {acc['top1']:.1%} ({acc['correct']}/{acc['total']}), target {ACCURACY_TARGET:.0%}")
    for miss in acc["misses"]:
        print(f"  miss: {miss['query']!r} expected {miss['expected']} got {miss['got']}")
    print(
        f"search latency on {lat['catalog_size']} products over {lat['queries']} queries: "
        f"p50 {lat['p50_ms']:.3f} ms, p95 {lat['p95_ms']:.3f} ms (target {P95_TARGET_MS} ms), "
        f"mean {lat['mean_ms']:.3f} ms, index build {lat['build_s']:.2f} s"
    )
    print(f"report: {args.output}")
    if args.quick:
        return 0
    return 0 if all(report["meets_targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
