"""Train the Rasa model only when its training data or config changed.

The model file is named after a fingerprint of everything Rasa trains on, so an unchanged
project reuses its model and a changed one trains exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.core.locks import exclusive

_LOGGER = logging.getLogger(__name__)

CONFIG_FILES = ("config.yml", "domain.yml")
DATA_PATHS = ("data/nlu", "data/stories.yml", "data/rules.yml")
CATALOG_FILES = ("data/catalog/products.yml",)
"""Not Rasa training data, but the spaCy catalog pipeline (``bot.nlp``) is built from it."""
MODEL_PREFIX = "nimbus-"


class TrainingError(RuntimeError):
    """``rasa train`` failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class ModelResult:
    """The model to serve, and whether it was trained just now (with the time taken)."""

    path: Path
    trained: bool
    seconds: float


def _training_files(root: Path) -> Iterator[Path]:
    for name in (*CONFIG_FILES, *DATA_PATHS, *CATALOG_FILES):
        path = root / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml", ".txt"))
        elif path.exists():
            yield path


def fingerprint(root: Path) -> str:
    """Hash of every training file's path and content (and the Rasa version pinned)."""
    digest = hashlib.sha256(b"rasa==3.6.21\n")
    for path in _training_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path, models_dir: Path) -> Path:
    """Where the model for the current training data lives (or will)."""
    return models_dir / f"{MODEL_PREFIX}{fingerprint(root)}.tar.gz"


def ensure_model(root: Path, models_dir: Path, *, force: bool = False) -> ModelResult:
    """Return the model for the current data, training it first if it does not exist.

    Concurrent callers (parallel test runs, two terminals) wait for one training.

    Raises:
        TrainingError: ``rasa train`` exited with an error.
    """
    target = model_path(root, models_dir)
    with exclusive(models_dir / ".train.lock"):
        if target.exists() and not force:
            return ModelResult(target, False, 0.0)
        started = time.monotonic()
        argv = [
            sys.executable,
            "-m",
            "rasa",
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            *DATA_PATHS,
            "--out",
            str(models_dir),
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
        ]
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        _LOGGER.info("training.started model=%s", target.name)
        completed = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
        if completed.returncode != 0 or not target.exists():
            tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-30:])
            raise TrainingError(f"rasa train failed (exit {completed.returncode}):\n{tail}")
        seconds = time.monotonic() - started
        for old in models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"):
            if old != target:
                old.unlink(missing_ok=True)
        _LOGGER.info("training.finished model=%s seconds=%.1f", target.name, seconds)
        return ModelResult(target, True, seconds)
