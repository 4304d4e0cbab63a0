"""Benchmark: multi-turn conversations as people have them, on the real stack.

``bench/data/dialogues/*.yml`` holds conversations by category (digressions in forms, exits,
resets, ellipsis, corrections, pronouns, two requests in one message, questions inside guides,
repeated information), each turn with what the bot's replies must (not) contain and which
buttons they must offer (format at the top of each file). The script starts the whole bot
(``python -m bot run --no-train``, as ``make run`` does, with the trained model), gives each
verified conversation a fresh customer with orders dated relative to today, plays every
conversation over the direct API and counts a conversation as passed when every expectation
holds.

Run from the repository root after ``make train``::

    .venv/bin/python bench/dialogue_robustness.py

Prints the figures per category, writes ``bench/results/dialogue_robustness.json`` and the plot
``docs/img/dialogue_robustness.png``; exits 1 when a target is missed (95 % overall, 90 % per
category).

``--set holdout`` plays ``bench/data/dialogues_holdout/`` instead: 60 conversations written
afterwards by someone who never saw the development set or the fixes made against it, to tell
how far the figures carry over (``bench/results/dialogue_robustness_holdout.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.identity.tokens import mint_customer_token  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.orders import add_customer, add_order  # noqa: E402
from tests.stack import E2E_IDENTITY_SECRET, RunningStack, buttons, joined, say, start_stack  # noqa: E402

DIALOGUES = ROOT / "bench" / "data" / "dialogues"
RESULTS_FILE = ROOT / "bench" / "results" / "dialogue_robustness.json"
PLOT_FILE = ROOT / "docs" / "img" / "dialogue_robustness.png"
#: The other sets: (conversations, results file, plot).
SETS = {
    "dev": (DIALOGUES, RESULTS_FILE, PLOT_FILE),
    "holdout": (
        ROOT / "bench" / "data" / "dialogues_holdout",
        ROOT / "bench" / "results" / "dialogue_robustness_holdout.json",
        ROOT / "docs" / "img" / "dialogue_robustness_holdout.png",
    ),
}
TARGETS = {"overall": 0.95, "per_category": 0.90}
EXPECT_KEYS = {"contains", "not_contains", "buttons", "any_of"}


@dataclass
class Outcome:
    """One conversation's result: passed, or the first failed turn and why."""

    category: str
    id: str
    passed: bool
    failure: dict[str, Any] = field(default_factory=dict)


def load_dialogues(folder: Path = DIALOGUES) -> dict[str, list[dict[str, Any]]]:
    """Conversations by category, checked for shape (raises SystemExit naming the file)."""
    categories: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        category, conversations = document.get("category"), document.get("conversations")
        if not isinstance(category, str) or not isinstance(conversations, list):
            raise SystemExit(f"{path}: needs 'category' and a list of 'conversations'")
        for conversation in conversations:
            turns = conversation.get("turns")
            if (
                not isinstance(turns, list)
                or not turns
                or conversation.get("customer") not in ("anonymous", "verified")
            ):
                raise SystemExit(f"{path}: {conversation.get('id')!r} needs turns and customer anonymous|verified")
            for turn in turns:
                if ("say" in turn) == ("tap" in turn) or not set(turn.get("expect") or {}) <= EXPECT_KEYS:
                    raise SystemExit(f"{path}: {conversation.get('id')!r}: each turn has say or tap, and known expects")
        categories.setdefault(category, []).extend(conversations)
    return categories


def check(expect: dict[str, Any], reply: dict[str, Any], fill: dict[str, str]) -> str | None:
    """Why the reply misses its expectations, or None when it meets them."""
    text = joined(reply)
    offered = buttons(reply)
    for wanted in expect.get("contains") or []:
        if str(wanted).format(**fill) not in text:
            return f"missing {str(wanted).format(**fill)!r}"
    for unwanted in expect.get("not_contains") or []:
        if str(unwanted).format(**fill) in text:
            return f"unexpected {str(unwanted).format(**fill)!r}"
    options = [str(o).format(**fill) for o in expect.get("any_of") or []]
    if options and not any(o in text for o in options):
        return f"none of {options!r}"
    for title in expect.get("buttons") or []:
        if str(title).format(**fill) not in offered:
            return f"no button {str(title).format(**fill)!r} (offered {list(offered)})"
    return None


_SETUP = threading.Lock()  # order numbers are picked as the next free ones: one customer at a time


def customer_for(engine: sa.engine.Engine) -> tuple[str, dict[str, str]]:
    """A fresh customer with one order in each state the conversations refer to."""
    with _SETUP:
        return _new_customer(engine)


def _new_customer(engine: sa.engine.Engine) -> tuple[str, dict[str, str]]:
    customer, _ = add_customer(engine)
    stranger, _ = add_customer(engine)
    return customer, {
        "processing": add_order(engine, customer, "processing", method="paypal"),
        "shipped": add_order(engine, customer, "shipped"),
        "delivered": add_order(engine, customer, "delivered", delivered_days_ago=3),
        "old": add_order(engine, customer, "delivered", delivered_days_ago=60),
        "other": add_order(engine, stranger, "processing"),
    }


async def play(
    session: aiohttp.ClientSession,
    stack: RunningStack,
    engine: sa.engine.Engine,
    category: str,
    number: int,
    conversation: dict[str, Any],
) -> Outcome:
    """Play one conversation; stop at the first turn that misses."""
    name = f"bench-{category}-{number}-{conversation.get('id')}"
    fill: dict[str, str] = {}
    token = None
    if conversation["customer"] == "verified":
        customer, fill = await asyncio.to_thread(customer_for, engine)
        token = mint_customer_token(customer, E2E_IDENTITY_SECRET, ttl_s=3600)
    reply: dict[str, Any] = {"replies": []}
    for index, turn in enumerate(conversation["turns"]):
        if "tap" in turn:
            title = str(turn["tap"]).format(**fill)
            payload = buttons(reply).get(title)
            if payload is None:
                failure = {"turn": index, "tap": title, "why": f"no button to tap (offered {list(buttons(reply))})"}
                return Outcome(category, str(conversation.get("id")), False, failure)
            text = payload
        else:
            text = str(turn["say"]).format(**fill)
        reply = await say(session, stack, name, text, token)
        why = check(turn.get("expect") or {}, reply, fill)
        if why is not None:
            failure = {"turn": index, "say": text, "why": why, "reply": joined(reply)[:400]}
            return Outcome(category, str(conversation.get("id")), False, failure)
    return Outcome(category, str(conversation.get("id")), True)


async def run_all(stack: RunningStack, categories: dict[str, list[dict[str, Any]]], parallel: int) -> list[Outcome]:
    """Every conversation, ``parallel`` at a time, with progress."""
    url = load_settings({"BOT_VAR_DIR": str(stack.var_dir), "BOT_ENV": "test"}).database_url
    engine = sa.create_engine(url)
    jobs = [(c, i, conv) for c, conversations in categories.items() for i, conv in enumerate(conversations)]
    outcomes: list[Outcome] = []
    gate = asyncio.Semaphore(parallel)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

            async def one(category: str, number: int, conversation: dict[str, Any]) -> None:
                async with gate:
                    outcomes.append(await play(session, stack, engine, category, number, conversation))
                    if len(outcomes) % 20 == 0 or len(outcomes) == len(jobs):
                        print(f"  played {len(outcomes)}/{len(jobs)} conversations", flush=True)

            await asyncio.gather(*(one(*job) for job in jobs))
    finally:
        engine.dispose()
    return outcomes


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """Pass rates overall and per category, with the failures."""
    per_category: dict[str, dict[str, Any]] = {}
    for outcome in sorted(outcomes, key=lambda o: (o.category, o.id)):
        row = per_category.setdefault(outcome.category, {"conversations": 0, "passed": 0, "failures": []})
        row["conversations"] += 1
        row["passed"] += int(outcome.passed)
        if not outcome.passed:
            row["failures"].append({"id": outcome.id, **outcome.failure})
    for row in per_category.values():
        row["pass_rate"] = round(row["passed"] / row["conversations"], 4)
    total = len(outcomes)
    passed = sum(o.passed for o in outcomes)
    return {
        "conversations": total,
        "passed": passed,
        "pass_rate": round(passed / total, 4) if total else 0.0,
        "per_category": per_category,
        "targets": TARGETS,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Pass rate per category against the 90 % line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = list(result["per_category"])
    rates = [result["per_category"][n]["pass_rate"] for n in names]
    figure, axis = plt.subplots(figsize=(8, 4.5))
    colours = ["#2a9d8f" if r >= TARGETS["per_category"] else "#e76f51" for r in rates]
    axis.barh(names, rates, color=colours)
    axis.axvline(TARGETS["per_category"], color="black", linestyle="--", label="target per category (90 %)")
    axis.set_xlim(0, 1)
    axis.invert_yaxis()
    axis.set_xlabel("conversations passed")
    axis.set_title(
        f"Dialogue robustness: {result['pass_rate']:.1%} of {result['conversations']} conversations pass", fontsize=10
    )
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Start the stack, play every conversation, report; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=4, help="conversations played at once (default 4)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="play only conversations whose category or id contains this text (repeatable); "
        "the results file is written only for a full run",
    )
    parser.add_argument("--set", choices=sorted(SETS), default="dev", help="which conversations (default dev)")
    args = parser.parse_args(argv)
    folder, results_file, plot_file = SETS[args.set]
    categories = load_dialogues(folder)
    if args.only:
        categories = {
            name: [c for c in conversations if any(o in name or o in str(c.get("id")) for o in args.only)]
            for name, conversations in categories.items()
        }
        categories = {name: conversations for name, conversations in categories.items() if conversations}
    count = sum(len(c) for c in categories.values())
    print(f"{count} conversations in {len(categories)} categories; starting the bot (about a minute)…", flush=True)
    with tempfile.TemporaryDirectory(prefix="dialogue-bench-") as var_dir:
        stack = start_stack(Path(var_dir) / "var", ROOT / "models")
        try:
            outcomes = asyncio.run(run_all(stack, categories, args.parallel))
        finally:
            stack.stop()
    result = summarise(outcomes)
    for name, row in result["per_category"].items():
        print(f"  {name:24s} {row['passed']:3d}/{row['conversations']:3d} passed ({row['pass_rate']:.0%})")
        for failure in row["failures"]:
            print(f"      fail {failure['id']}: turn {failure['turn']}: {failure['why']}")
            if args.only:
                print("        replied: " + str(failure.get("reply", "")).replace("\n", " / ")[:300])
    print(f"all: {result['passed']}/{result['conversations']} conversations passed ({result['pass_rate']:.1%})")
    if args.only:
        return 0 if result["passed"] == result["conversations"] else 1
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot(result, plot_file)
    print(f"-> {results_file.relative_to(ROOT)}, {plot_file.relative_to(ROOT)}")
    ok = result["pass_rate"] >= TARGETS["overall"] and all(
        row["pass_rate"] >= TARGETS["per_category"] for row in result["per_category"].values()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
