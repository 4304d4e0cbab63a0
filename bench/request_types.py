"""Benchmark: the requests customers bring most are understood, or at least never taken for something else.

``bench/data/request_types.yml`` holds messages per request type (order tracking, cancel an
order, refund status, delete my account, a complaint, ...), written without looking at the
training data. Each is parsed by the trained model as the bot serves it (FallbackClassifier
included) and counted as:

- **right**: an intent that serves this request type (an action, the help center or a person
  with the request's own reason; ``ACCEPTED`` below);
- **unsure**: ``nlu_fallback``: the bot does not act on it but asks "did you mean …?", answers
  from the help center only when its search is sure, or offers a person;
- **confidently wrong**: another intent above the fallback threshold: the bot acts on a
  misunderstanding.

Run from the repository root after ``make train``::

    .venv/bin/python bench/request_types.py

Prints the figures per type, writes ``bench/results/request_types.json`` and the plot
``docs/img/request_types.png``; exits 1 when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUESTIONS = ROOT / "bench" / "data" / "request_types.yml"
RESULTS_FILE = ROOT / "bench" / "results" / "request_types.json"
PLOT_FILE = ROOT / "docs" / "img" / "request_types.png"
TARGETS = {"right": 0.85, "wrong_max": 0.05}

#: The intents that serve each request type (rules in data/rules.yml).
ACCEPTED: dict[str, set[str]] = {
    "order_tracking": {"order_status", "recent_orders"},
    "delivery_options": {"ask_help"},
    "cancel_order": {"order_cancel"},
    "change_order": {"order_change"},
    "change_delivery_address": {"order_change_address"},
    "return": {"order_return"},
    "refund_status": {"refund_status"},
    "refund_policy": {"ask_help"},
    "cancellation_fees": {"ask_help"},
    "invoices": {"billing_question", "ask_help"},
    "payment_methods": {"ask_help"},
    "payment_problems": {"problem_payment_failed"},
    "create_account": {"ask_help"},
    "edit_account": {"update_contact", "ask_help"},
    "delete_account": {"account_delete"},
    "switch_account": {"ask_help"},
    "password_registration_problems": {"problem_login", "ask_help"},
    "newsletter": {"marketing_opt_out", "ask_help"},
    "complaint": {"complaint", "frustrated", "request_human"},
    "review_feedback": {"give_feedback"},
    "contact_person": {"request_human"},
}


def load_questions(path: Path = QUESTIONS) -> dict[str, list[str]]:
    """The messages per request type (every type of ``ACCEPTED`` must be there)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    types = {str(k): [str(q) for q in v] for k, v in document["request_types"].items()}
    missing = set(ACCEPTED) - set(types)
    unknown = set(types) - set(ACCEPTED)
    if missing or unknown:
        raise SystemExit(f"{path}: missing types {sorted(missing)}, unknown types {sorted(unknown)}")
    return types


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    """The served model's intent and confidence for each text, with progress."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no debug line per parsed message
    agent = Agent.load(str(model))
    parsed = []
    for done, text in enumerate(texts, 1):
        result = await agent.parse_message(text)
        parsed.append(result["intent"])
        if done % 50 == 0 or done == len(texts):
            print(f"  parsed {done}/{len(texts)}", flush=True)
    return parsed


def score(types: dict[str, list[str]], parsed: list[dict[str, Any]]) -> dict[str, Any]:
    """Right / unsure / confidently wrong per type and overall, with the wrong ones listed."""
    per_type: dict[str, dict[str, Any]] = {}
    position = 0
    totals = {"right": 0, "unsure": 0, "wrong": 0}
    for name, questions in types.items():
        counts = {"right": 0, "unsure": 0, "wrong": 0}
        wrong: list[dict[str, Any]] = []
        for question in questions:
            intent = parsed[position]
            position += 1
            if intent["name"] in ACCEPTED[name]:
                counts["right"] += 1
            elif intent["name"] == "nlu_fallback":
                counts["unsure"] += 1
            else:
                counts["wrong"] += 1
                wrong.append({"q": question, "got": intent["name"], "confidence": round(intent["confidence"], 3)})
        for key in totals:
            totals[key] += counts[key]
        per_type[name] = {**counts, "questions": len(questions), "wrong_examples": wrong}
    total = sum(totals.values())
    return {
        "questions": total,
        "right": round(totals["right"] / total, 4),
        "unsure": round(totals["unsure"] / total, 4),
        "wrong": round(totals["wrong"] / total, 4),
        "per_type": per_type,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Stacked bars per request type: right, unsure, confidently wrong."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = list(result["per_type"])
    shares = {
        key: [result["per_type"][n][key] / result["per_type"][n]["questions"] for n in names]
        for key in ("right", "unsure", "wrong")
    }
    figure, axis = plt.subplots(figsize=(9, 6))
    left = [0.0] * len(names)
    colours = {"right": "#2a9d8f", "unsure": "#e9c46a", "wrong": "#e76f51"}
    labels = {"right": "right", "unsure": "unsure (asks, or help only if sure)", "wrong": "confidently wrong"}
    for key in ("right", "unsure", "wrong"):
        axis.barh(names, shares[key], left=left, color=colours[key], label=labels[key])
        left = [a + b for a, b in zip(left, shares[key], strict=True)]
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of held-out customer messages")
    axis.set_title(
        f"Common requests: {result['right']:.1%} right, {result['unsure']:.1%} unsure, "
        f"{result['wrong']:.1%} confidently wrong ({result['questions']} messages)",
        fontsize=10,
    )
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> int:
    """Parse, score, print, write; 1 when a target is missed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")  # the libraries' deprecation notices would hide the figures
    logging.getLogger("rasa").setLevel(logging.WARNING)
    from bot.training import ensure_model

    types = load_questions()
    texts = [q for questions in types.values() for q in questions]
    print(f"{len(texts)} messages in {len(types)} request types; loading the trained model…", flush=True)
    model = ensure_model(ROOT, ROOT / "models").path
    result = score(types, asyncio.run(parse_all(model, texts)))
    for name, row in result["per_type"].items():
        counts = f"right {row['right']:2d}/{row['questions']}  unsure {row['unsure']:2d}  wrong {row['wrong']:2d}"
        print(f"  {name:32s} {counts}")
        for miss in row["wrong_examples"]:
            print(f"      wrong: {miss['q']!r} -> {miss['got']} ({miss['confidence']})")
    print(f"all: right {result['right']:.1%}, unsure {result['unsure']:.1%}, confidently wrong {result['wrong']:.1%}")
    result["targets"] = TARGETS
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot(result, PLOT_FILE)
    print(f"-> {RESULTS_FILE.relative_to(ROOT)}, {PLOT_FILE.relative_to(ROOT)}")
    ok = result["right"] >= TARGETS["right"] and result["wrong"] <= TARGETS["wrong_max"]
    print(f"  {'ok  ' if result['right'] >= TARGETS['right'] else 'MISS'} right >= {TARGETS['right']:.0%}")
    print(f"  {'ok  ' if result['wrong'] <= TARGETS['wrong_max'] else 'MISS'} wrong <= {TARGETS['wrong_max']:.0%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
