"""Benchmark an NLU pipeline on CLINC150 (Larson et al. 2019, "full"): intents and out-of-scope detection.

Trains a Rasa NLU pipeline on the 150 in-scope intents of CLINC150 full (15,000 examples), parses
the validation and test splits once each, and scores every fallback threshold of a sweep from the
stored top intents and confidences: in-scope accuracy (right intent and not rejected), out-of-scope
recall and precision, macro-F1 over the 150 intents plus ``oos``; also training wall time and
p50/p95 parse latency. Two modes, reported separately:

* default: 150 classes; a message is out of scope when the top confidence is below the threshold;
* ``--with-oos-train``: ``oos_train`` is a 151st class ``oos``; a message is out of scope when the
  top intent is ``oos`` or the confidence is below the threshold.

Two operating thresholds are chosen on the validation split: the maximum of in-scope accuracy plus
out-of-scope recall (the lowest threshold on ties), and the highest threshold that gives up at most
half a point of in-scope accuracy against the top-1 accuracy (a support bot's point of view:
answerable questions should rarely go to a human); 0.27 and 0.7 are reported for comparison.

Pipelines: ``bot`` is the bot's own ``config.yml`` pipeline; any other name is
``bench/pipelines/<name>.yml`` (or a path to a Rasa config file). Run from the repository root::

    .venv/bin/python bench/nlu_clinc150.py --pipeline stock                    # ~50 min on 2 cores
    .venv/bin/python bench/nlu_clinc150.py --pipeline stock --with-oos-train
    .venv/bin/python bench/nlu_clinc150.py --pipeline stock --small --out /tmp/x   # smoke test, < 1 min

Prints a table and writes ``bench/results/nlu_clinc150-<pipeline>[-oos][-small].json`` (every
figure, the sweeps, machine info), a PNG plot of in-scope accuracy against out-of-scope recall over
the thresholds, and the per-example predictions (``.predictions.jsonl.gz``) for re-scoring.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _data_file() -> Path:
    """CLINC150 "full" in ``$BOT_DATASETS_DIR``, ``../shared/datasets`` beside the checkout or ``/work/shared``."""
    relative = Path("clinc150_oos_eval") / "data_full.json"
    candidates = [ROOT.parent / "shared" / "datasets", Path("/work/shared/datasets")]
    if os.environ.get("BOT_DATASETS_DIR"):
        candidates.insert(0, Path(os.environ["BOT_DATASETS_DIR"]))
    for folder in candidates:
        if (folder / relative).exists():
            return folder / relative
    return candidates[0] / relative


DATA_FILE = _data_file()
PIPELINES_DIR = ROOT / "bench" / "pipelines"
RESULTS_DIR = ROOT / "bench" / "results"
OOS = "oos"
FALLBACK_INTENT = "nlu_fallback"
THRESHOLDS = tuple(round(i / 100, 2) for i in range(100))
FIXED_THRESHOLDS = (0.27, 0.7)
#: In-scope accuracy (a share) the second validation rule may give up for out-of-scope recall.
BUDGET = 0.005
SMALL = {"intents": 10, "train": 20, "val": 5, "oos_train": 20, "oos_val": 20, "oos_test": 100, "epochs": 10}
WARMUP_PARSES = 10
TRAINED_EPOCH_COMPONENTS = ("DIETClassifier", "ResponseSelector")

Example = tuple[str, str]


# --------------------------------------------------------------------------- metrics (pure)


@dataclass(frozen=True)
class Prediction:
    """One parsed example: the gold label, the top intent and its confidence.

    ``served`` is what the pipeline itself answered (its FallbackClassifier turns low confidence
    into ``nlu_fallback``); ``intent``/``confidence`` are the classifier's top intent without it.
    """

    gold: str
    intent: str
    confidence: float
    served: str = ""


def decide(prediction: Prediction, threshold: float) -> str:
    """The label the benchmark assigns at ``threshold``: the top intent, or ``oos`` when rejected.

    Rejected means the confidence is below the threshold (as Rasa's FallbackClassifier does) or
    the top intent is the ``oos`` class itself.
    """
    if prediction.intent == OOS or prediction.confidence < threshold:
        return OOS
    return prediction.intent


def served_label(prediction: Prediction) -> str:
    """The label of what the pipeline answered as configured (``nlu_fallback`` counts as ``oos``)."""
    return OOS if prediction.served in (FALLBACK_INTENT, OOS) else prediction.served


def macro_f1(golds: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> float:
    """Unweighted mean F1 over ``labels`` (a label with no gold, no prediction scores 0)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for gold, pred in zip(golds, predicted, strict=True):
        if gold == pred:
            tp[gold] += 1
        else:
            fp[pred] += 1
            fn[gold] += 1
    scores = []
    for label in labels:
        denominator = 2 * tp[label] + fp[label] + fn[label]
        scores.append(2 * tp[label] / denominator if denominator else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def score(golds: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """In-scope accuracy, out-of-scope recall/precision and macro-F1 of final labels.

    Args:
        golds: Gold labels (``oos`` for out-of-scope examples).
        predicted: Final labels (``oos`` when the message was rejected).

    Returns:
        ``in_scope_accuracy`` (in-scope examples with the right intent, not rejected, over all
        in-scope examples), ``oos_recall``, ``oos_precision`` (0 when nothing was rejected),
        ``macro_f1`` over every gold label plus ``oos``, ``accuracy`` over all examples, and counts.
    """
    if len(golds) != len(predicted):
        raise ValueError(f"{len(golds)} gold labels but {len(predicted)} predictions")
    pairs = list(zip(golds, predicted, strict=True))
    in_scope = [(g, p) for g, p in pairs if g != OOS]
    out_scope = [(g, p) for g, p in pairs if g == OOS]
    in_correct = sum(1 for g, p in in_scope if g == p)
    oos_hits = sum(1 for _, p in out_scope if p == OOS)
    rejected = sum(1 for _, p in pairs if p == OOS)
    labels = sorted({*golds, OOS})
    return {
        "in_scope_accuracy": in_correct / len(in_scope) if in_scope else 0.0,
        "oos_recall": oos_hits / len(out_scope) if out_scope else 0.0,
        "oos_precision": oos_hits / rejected if rejected else 0.0,
        "macro_f1": macro_f1(golds, predicted, labels),
        "accuracy": sum(1 for g, p in pairs if g == p) / len(pairs) if pairs else 0.0,
        "in_scope": len(in_scope),
        "in_scope_correct": in_correct,
        "in_scope_rejected": sum(1 for _, p in in_scope if p == OOS),
        "out_of_scope": len(out_scope),
        "oos_detected": oos_hits,
        "rejected": rejected,
    }


def metrics_at(predictions: Sequence[Prediction], threshold: float) -> dict[str, Any]:
    """:func:`score` of the labels :func:`decide` gives at ``threshold``, with the threshold."""
    golds = [p.gold for p in predictions]
    return {"threshold": threshold, **score(golds, [decide(p, threshold) for p in predictions])}


def top1_in_scope(predictions: Sequence[Prediction]) -> float:
    """Share of in-scope examples whose top intent is right, whatever its confidence."""
    in_scope = [p for p in predictions if p.gold != OOS]
    return sum(1 for p in in_scope if p.intent == p.gold) / len(in_scope) if in_scope else 0.0


def sweep(predictions: Sequence[Prediction], thresholds: Iterable[float] = THRESHOLDS) -> list[dict[str, Any]]:
    """:func:`metrics_at` for every threshold, in order."""
    return [metrics_at(predictions, t) for t in thresholds]


def choose_threshold(predictions: Sequence[Prediction], thresholds: Iterable[float] = THRESHOLDS) -> float:
    """The threshold maximising in-scope accuracy + out-of-scope recall (the lowest one on ties).

    Meant for the validation split; the test split is then scored at the threshold chosen.

    Raises:
        ValueError: No thresholds.
    """
    best: tuple[float, float] | None = None
    for t in sorted(thresholds):
        m = metrics_at(predictions, t)
        value = m["in_scope_accuracy"] + m["oos_recall"]
        if best is None or value > best[1] + 1e-12:
            best = (t, value)
    if best is None:
        raise ValueError("no thresholds to choose from")
    return best[0]


def choose_threshold_within(
    predictions: Sequence[Prediction], budget: float = 0.005, thresholds: Iterable[float] = THRESHOLDS
) -> float:
    """The highest threshold whose in-scope accuracy is at most ``budget`` below the top-1 accuracy.

    The operating point of a support bot: hand off as much out-of-scope text as possible while
    giving up at most ``budget`` (default half a point) of the answerable questions. Meant for the
    validation split, like :func:`choose_threshold`.

    Raises:
        ValueError: No thresholds.
    """
    ordered = sorted(thresholds)
    if not ordered:
        raise ValueError("no thresholds to choose from")
    floor = top1_in_scope(predictions) - budget - 1e-12
    eligible = [t for t in ordered if metrics_at(predictions, t)["in_scope_accuracy"] >= floor]
    return max(eligible) if eligible else ordered[0]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of ``values``.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def latency_stats(timings_ms: Sequence[float]) -> dict[str, float]:
    """Count, p50, p95 and mean of per-parse timings in milliseconds."""
    return {
        "parses": len(timings_ms),
        "p50_ms": round(statistics.median(timings_ms), 3),
        "p95_ms": round(percentile(timings_ms, 0.95), 3),
        "mean_ms": round(statistics.fmean(timings_ms), 3),
    }


def prediction_from_parse(gold: str, parsed: dict[str, Any]) -> Prediction:
    """Turn Rasa's parse result into a :class:`Prediction`, looking past ``nlu_fallback``.

    The FallbackClassifier puts ``nlu_fallback`` first in the ranking and keeps the classifier's
    ranking after it, so the classifier's top intent is the first other entry.
    """
    served = (parsed.get("intent") or {}).get("name") or ""
    ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
    if ranking:
        top = ranking[0]
    else:
        top = parsed.get("intent") or {}
        if top.get("name") == FALLBACK_INTENT:
            top = {}
    return Prediction(gold, str(top.get("name") or ""), float(top.get("confidence") or 0.0), str(served))


# --------------------------------------------------------------------------- data


def load_clinc(path: Path = DATA_FILE) -> dict[str, list[Example]]:
    """Read a CLINC150 data file: split name -> list of ``(text, intent)``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {split: [(str(text), str(intent)) for text, intent in rows] for split, rows in raw.items()}


def small_subset(data: dict[str, list[Example]], sizes: dict[str, int] = SMALL) -> dict[str, list[Example]]:
    """A fast, deterministic subset: a few intents spread over the domains, few examples each.

    ``sizes`` gives ``intents`` and per-intent ``train`` and ``val`` counts; the test split keeps
    every example of those intents; the out-of-scope splits are cut to ``oos_*`` examples.
    """
    intents = sorted({intent for _, intent in data["train"]})
    step = max(1, len(intents) // sizes["intents"])
    chosen = set(intents[::step][: sizes["intents"]])

    def per_intent(rows: list[Example], limit: int | None) -> list[Example]:
        seen: Counter[str] = Counter()
        kept = []
        for text, intent in rows:
            if intent in chosen and (limit is None or seen[intent] < limit):
                seen[intent] += 1
                kept.append((text, intent))
        return kept

    return {
        "train": per_intent(data["train"], sizes["train"]),
        "val": per_intent(data["val"], sizes["val"]),
        "test": per_intent(data["test"], None),
        "oos_train": data["oos_train"][: sizes["oos_train"]],
        "oos_val": data["oos_val"][: sizes["oos_val"]],
        "oos_test": data["oos_test"][: sizes["oos_test"]],
    }


def nlu_yaml(examples: Sequence[Example]) -> str:
    """Rasa 3 NLU training data for ``examples``, each text a quoted YAML scalar.

    Raises:
        ValueError: Rasa would read a text as an entity annotation (``[text](entity)``, a plain
            ``[country]`` is fine) or an intent payload (leading ``/``), or a text is empty.
    """
    from rasa.shared.nlu.training_data.entities_parser import ENTITY_REGEX

    by_intent: dict[str, list[dict[str, str]]] = {}
    for text, intent in examples:
        if not text.strip() or text.lstrip().startswith("/") or ENTITY_REGEX.search(text):
            raise ValueError(f"cannot train on {text!r} as plain text")
        by_intent.setdefault(intent, []).append({"text": text})
    document = {"version": "3.1", "nlu": [{"intent": k, "examples": v} for k, v in by_intent.items()]}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_style=None, width=1000)


# --------------------------------------------------------------------------- pipelines


def resolve_pipeline(name: str) -> tuple[str, Path]:
    """Map ``bot``, a name in ``bench/pipelines/`` or a config path to ``(name, config file)``.

    Raises:
        FileNotFoundError: No such pipeline.
    """
    if name == "bot":
        return "bot", ROOT / "config.yml"
    candidate = PIPELINES_DIR / f"{name}.yml"
    if candidate.exists():
        return name, candidate
    path = Path(name)
    if path.suffix in (".yml", ".yaml") and path.exists():
        return path.stem, path.resolve()
    known = ", ".join(["bot", *sorted(p.stem for p in PIPELINES_DIR.glob("*.yml"))])
    raise FileNotFoundError(f"no pipeline {name!r} (known: {known})")


def nlu_config(config_file: Path, epochs: int | None) -> tuple[dict[str, Any], int | None]:
    """The NLU part of a Rasa config, ready to train from another directory.

    Drops the dialogue policies, makes relative model paths (``SpacyNLP``'s ``model``) absolute
    when they exist under the repository, and sets ``epochs`` on DIET (and other epoch-trained
    components) when given.

    Returns:
        The config and the DIET epochs it trains with (``None`` when there is no DIET).
    """
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config.pop("policies", None)
    diet_epochs = None
    for component in config.get("pipeline") or []:
        model = component.get("model")
        if isinstance(model, str) and not Path(model).is_absolute():
            for base in (config_file.parent, ROOT):
                if (base / model).exists():
                    component["model"] = str((base / model).resolve())
                    break
        name = str(component.get("name", "")).rsplit(".", 1)[-1]
        if epochs is not None and (name in TRAINED_EPOCH_COMPONENTS or "epochs" in component):
            component["epochs"] = epochs
        if name == "DIETClassifier":
            diet_epochs = int(component.get("epochs", 300))
    return config, diet_epochs


# --------------------------------------------------------------------------- run


def machine_info() -> dict[str, Any]:
    """CPU, OS, Python/Rasa/TensorFlow versions and the git commit, for the report."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for module in ("rasa", "tensorflow", "spacy", "sklearn"):
        try:
            versions[module] = str(__import__(module).__version__)
        except (ImportError, AttributeError):
            versions[module] = "n/a"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        **versions,
        "git_commit": commit,
    }


def _load_average() -> list[float]:
    """The 1/5/15-minute load averages (other processes competing for the 2 cores skew timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def train(config: dict[str, Any], train_examples: Sequence[Example], workdir: Path) -> tuple[Path, float]:
    """Train the NLU pipeline on ``train_examples``; return the model archive and wall seconds."""
    import rasa.model_training

    (workdir / "data").mkdir(parents=True, exist_ok=True)
    (workdir / "data" / "nlu.yml").write_text(nlu_yaml(train_examples), encoding="utf-8")
    config_path = workdir / "config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    start = time.perf_counter()
    model = rasa.model_training.train_nlu(
        str(config_path), str(workdir / "data"), str(workdir / "models"), fixed_model_name="clinc150"
    )
    seconds = time.perf_counter() - start
    if not model:
        raise RuntimeError("Rasa training produced no model")
    return Path(model), seconds


async def parse_all(agent: Any, examples: Sequence[Example], label: str) -> tuple[list[Prediction], list[float]]:
    """Parse each example once with ``agent``; return predictions and per-parse milliseconds."""
    predictions, timings = [], []
    for i, (text, gold) in enumerate(examples, 1):
        start = time.perf_counter()
        parsed = await agent.parse_message(text)
        timings.append((time.perf_counter() - start) * 1000.0)
        predictions.append(prediction_from_parse(gold, parsed))
        if i % 1000 == 0:
            print(f"  parsed {i}/{len(examples)} {label} examples", file=sys.stderr, flush=True)
    return predictions, timings


def evaluate(
    val: Sequence[Prediction], test: Sequence[Prediction], thresholds: Sequence[float] = THRESHOLDS
) -> dict[str, Any]:
    """Every figure from stored predictions: top-1, sweeps, val-chosen and fixed thresholds, as served."""
    chosen = choose_threshold(val, thresholds)
    within = choose_threshold_within(val, BUDGET, thresholds)
    return {
        "top1_in_scope": top1_in_scope(test),
        "val_chosen": {
            "criterion": "max in_scope_accuracy + oos_recall on val (lowest threshold on ties)",
            "threshold": chosen,
            "val": metrics_at(val, chosen),
            "test": metrics_at(test, chosen),
        },
        "val_budget": {
            "criterion": f"highest threshold with val in-scope accuracy >= val top-1 - {BUDGET:g}",
            "threshold": within,
            "val": metrics_at(val, within),
            "test": metrics_at(test, within),
        },
        "fixed": {f"{t:g}": metrics_at(test, t) for t in FIXED_THRESHOLDS},
        "as_served": score([p.gold for p in test], [served_label(p) for p in test]),
        "sweep": {"test": sweep(test, thresholds), "val": sweep(val, thresholds)},
    }


def plot(report: dict[str, Any], path: Path) -> None:
    """Plot in-scope accuracy against out-of-scope recall over the test sweep, marking thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["sweep"]["test"]
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    ax.plot([r["oos_recall"] for r in rows], [r["in_scope_accuracy"] for r in rows], "-", color="tab:blue")
    marks = [(report["val_chosen"]["test"], f"val-chosen {report['val_chosen']['threshold']:g}", "tab:red")]
    marks += [(m, f"threshold {t}", "tab:gray") for t, m in report["fixed"].items()]
    for m, label, color in marks:
        ax.plot(m["oos_recall"], m["in_scope_accuracy"], "o", color=color)
        ax.annotate(label, (m["oos_recall"], m["in_scope_accuracy"]), textcoords="offset points", xytext=(6, 4))
    for r in rows[::10]:
        ax.annotate(f"{r['threshold']:g}", (r["oos_recall"], r["in_scope_accuracy"]), fontsize=7, color="tab:blue")
    mode = "oos_train as a class" if report["with_oos_train"] else "150 classes"
    ax.set_title(f"CLINC150 full test: {report['pipeline']} ({mode}){' [small]' if report['small'] else ''}")
    ax.set_xlabel("out-of-scope recall")
    ax.set_ylabel("in-scope accuracy")
    ax.set_xlim(0, 1.02)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(
    pipeline: str, with_oos_train: bool, small: bool, epochs: int | None, out_dir: Path, data_file: Path = DATA_FILE
) -> dict[str, Any]:
    """Train, parse val and test once, score, and write the JSON, plot and predictions.

    Returns:
        The report (also written to ``<out_dir>/nlu_clinc150-<name>[-oos][-small].json``).
    """
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # unconfigured structlog prints a debug line per parsed message
    name, config_file = resolve_pipeline(pipeline)
    data = load_clinc(data_file)
    if small:
        data = small_subset(data)
        if epochs is None:
            epochs = SMALL["epochs"]
    config, diet_epochs = nlu_config(config_file, epochs)
    train_examples = data["train"] + ([(t, OOS) for t, _ in data["oos_train"]] if with_oos_train else [])
    val_examples = data["val"] + [(t, OOS) for t, _ in data["oos_val"]]
    test_examples = data["test"] + [(t, OOS) for t, _ in data["oos_test"]]
    stem = f"nlu_clinc150-{name}{'-oos' if with_oos_train else ''}{'-small' if small else ''}"
    print(f"{stem}: training on {len(train_examples)} examples (DIET epochs: {diet_epochs})", flush=True)

    from rasa.core.agent import Agent

    with tempfile.TemporaryDirectory(prefix="clinc150-") as tmp:
        load_average = {"before_training": _load_average()}
        model, train_seconds = train(config, train_examples, Path(tmp))
        load_average["after_training"] = _load_average()
        print(f"{stem}: trained in {train_seconds:.1f} s; parsing", flush=True)
        start = time.perf_counter()
        agent = Agent.load(model)
        load_seconds = time.perf_counter() - start

        async def parse_splits() -> tuple[list[Prediction], list[Prediction], list[float]]:
            for text, _ in val_examples[:WARMUP_PARSES]:
                await agent.parse_message(text)
            val, _ = await parse_all(agent, val_examples, "val")
            test, timings = await parse_all(agent, test_examples, "test")
            return val, test, timings

        val, test, timings = asyncio.run(parse_splits())
        load_average["after_parsing"] = _load_average()

    report: dict[str, Any] = {
        "benchmark": "CLINC150 full (Larson et al. 2019), test split",
        "pipeline": name,
        "config_file": str(config_file.relative_to(ROOT) if config_file.is_relative_to(ROOT) else config_file),
        "pipeline_config": config["pipeline"],
        "with_oos_train": with_oos_train,
        "small": small,
        "epochs": diet_epochs,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "data": {
            "train": len(train_examples),
            "intents": len({i for _, i in train_examples}),
            "val": len(val_examples),
            "test_in_scope": len(data["test"]),
            "test_oos": len(data["oos_test"]),
        },
        "load_average": load_average,
        "train_seconds": round(train_seconds, 1),
        "load_seconds": round(load_seconds, 2),
        "latency": latency_stats(timings),
        **evaluate(val, test),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    with gzip.open(out_dir / f"{stem}.predictions.jsonl.gz", "wt", encoding="utf-8") as stream:
        for split, examples, rows in (("val", val_examples, val), ("test", test_examples, test)):
            for (text, _), p in zip(examples, rows, strict=True):
                stream.write(json.dumps({"split": split, "text": text, **asdict(p)}) + "\n")
    plot(report, out_dir / f"{stem}.png")
    report["files"] = [str(out_dir / f"{stem}{suffix}") for suffix in (".json", ".png", ".predictions.jsonl.gz")]
    return report


def format_table(report: dict[str, Any]) -> str:
    """A plain-text summary: the operating points, then the sweep every 0.05."""
    lat = report["latency"]
    mode = "oos_train as class 'oos'" if report["with_oos_train"] else "150 classes, no oos_train"
    lines = [
        f"CLINC150 full test - pipeline {report['pipeline']} ({mode}){' [SMALL]' if report['small'] else ''}",
        f"train {report['data']['train']} examples, DIET epochs {report['epochs']}, "
        f"training {report['train_seconds']:.1f} s, parse p50 {lat['p50_ms']:.1f} ms p95 {lat['p95_ms']:.1f} ms "
        f"({lat['parses']} parses)",
        f"top-1 in-scope (no rejection): {report['top1_in_scope']:.1%}",
        "",
        f"{'operating point':<26} {'thr':>5} {'in-scope':>9} {'OOS rec':>8} {'OOS prec':>9} {'macro-F1':>9}",
    ]

    def row(label: str, m: dict[str, Any], threshold: str) -> str:
        return (
            f"{label:<26} {threshold:>5} {m['in_scope_accuracy']:>9.1%} {m['oos_recall']:>8.1%} "
            f"{m['oos_precision']:>9.1%} {m['macro_f1']:>9.3f}"
        )

    chosen = report["val_chosen"]
    lines.append(row("val-chosen (test)", chosen["test"], f"{chosen['threshold']:g}"))
    if "val_budget" in report:
        budget = report["val_budget"]
        lines.append(row("val, <=0.5 pt in-scope lost", budget["test"], f"{budget['threshold']:g}"))
    for t, m in report["fixed"].items():
        lines.append(row("fixed", m, t))
    lines.append(row("as served by the pipeline", report["as_served"], "-"))
    lines += ["", "sweep (test):"]
    for m in report["sweep"]["test"]:
        if round(m["threshold"] * 100) % 5 == 0:
            lines.append(row("", m, f"{m['threshold']:g}"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pipeline", default="stock", help="'bot', a name in bench/pipelines/, or a config path")
    parser.add_argument("--with-oos-train", action="store_true", help="train oos_train as a 151st class 'oos'")
    parser.add_argument("--small", action="store_true", help=f"fast subset for smoke tests ({SMALL})")
    parser.add_argument("--epochs", type=int, default=None, help="override DIET epochs")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output directory (default bench/results)")
    parser.add_argument("--data", type=Path, default=DATA_FILE, help="CLINC150 data_full.json")
    args = parser.parse_args(argv)
    report = run(args.pipeline, args.with_oos_train, args.small, args.epochs, args.out, args.data)
    print(format_table(report))
    for path in report["files"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
