"""``bench/soak.py`` itself, briefly, against the session's real stack (the 30-minute run is ``make soak``).

The soak's verdicts (lost and duplicated replies, memory growth) are only worth its half hour
if the script reads them right; this runs it for 20 seconds at a low rate and checks what it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.stack import RunningStack

pytestmark = pytest.mark.e2e


def test_a_short_soak_loses_and_duplicates_nothing(stack: RunningStack, tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [
        sys.executable,
        "bench/soak.py",
        *("--minutes", "0.34", "--warmup-minutes", "0", "--rate", "1.5"),
        *("--attach", stack.gateway_url, "--api-token", stack.api_token),
        *("--supervisor-pid", str(stack.process.pid), "--out", str(out)),
    ]
    finished = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["sent"] >= 10 and results["answered"] == results["sent"], results
    assert results["errors"] == {} and results["audit"]["lost"] == 0 and results["audit"]["duplicated"] == 0
    assert results["audit"]["conversations"] >= 5
    (sample,) = results["memory_samples"]  # one sample, at the start, of each of the three processes
    assert set(sample["rss_mib"]) == {"rasa", "actions", "gateway"} and all(sample["rss_mib"].values())
