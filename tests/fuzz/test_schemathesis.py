"""Schemathesis against the live gateway, with docs/openapi.yaml and the real tokens.

The CLI runs from ``.venv-tools`` (``make tools``) as a subprocess that talks to 127.0.0.1 only.
Every check is on; generation is deterministic (the same cases on every run of the same
Schemathesis, spec and gateway) and ``--max-examples`` keeps the run under a minute on two cores,
with a hard budget below. The run happens once per module; each test below asserts one family of
checks. A bug the fuzzer finds that is not fixed yet is listed in ``KNOWN_FINDINGS``: the family
tests leave its requests out, and its own test is an xfail that turns into a failure (XPASS)
once the fix lands, so the entry and its marker are removed with the fix.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from tests.fuzz.conftest import FIGURES, LiveGateway
from tests.services import require

SCHEMATHESIS = PROJECT_ROOT / ".venv-tools" / "bin" / "schemathesis"
SPEC = PROJECT_ROOT / "docs" / "openapi.yaml"
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Cases per operation and phase: about 1,500 cases in all with today's spec (11 operations).
MAX_EXAMPLES = 50
MIN_CASES = 1000
#: Hard stop for the subprocess (a run takes 25-60 s on two shared cores).
BUDGET_S = 180

#: The checks each test below answers for (``--checks all`` runs them all).
SERVER_CHECKS = {"not_a_server_error"}
RESPONSE_CHECKS = {
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
}
INPUT_CHECKS = {"negative_data_rejection", "positive_data_acceptance", "missing_required_header", "ignored_auth"}
METHOD_CHECKS = {"unsupported_method", "allow_header_conformance"}


@dataclass(frozen=True)
class Failure:
    """One failed check on one request (``check`` is ``http_5xx`` for a 5xx answer seen in the log)."""

    check: str
    operation: str
    message: str
    request: str
    status: int | None
    body: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.request} -> {self.status} {self.body[:200]!r}: {self.message}"

    def query(self, name: str) -> str | None:
        """A query parameter of the request, if it has one."""
        uri = self.request.split(" ")[1] if " " in self.request else ""
        values = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query).get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class KnownFinding:
    """A bug the fuzzer finds and that is not fixed yet: which failures and gateway log lines are it."""

    name: str
    reason: str
    matches: Callable[[Failure], bool]
    #: A regular expression over ``LiveGateway.unhandled_errors`` lines (for a 500 it causes).
    log: str | None = None


KNOWN_FINDINGS: tuple[KnownFinding, ...] = ()


def known(failure: Failure) -> KnownFinding | None:
    """The known finding a failure belongs to, if any."""
    return next((finding for finding in KNOWN_FINDINGS if finding.matches(failure)), None)


def unknown_log_lines(lines: list[str]) -> list[str]:
    """Gateway log lines of 500 answers that no known finding explains."""
    patterns = [re.compile(f.log) for f in KNOWN_FINDINGS if f.log]
    return [line for line in lines if not any(p.search(line) for p in patterns)]


@dataclass
class FuzzRun:
    """What one Schemathesis run did, read from its JSON and NDJSON reports."""

    command: list[str]
    exit_code: int
    seconds: float
    cases: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    #: Every answer with a 5xx status, as a failure of the pseudo-check ``http_5xx``.
    server_errors: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""

    def failed(self, checks: set[str]) -> list[Failure]:
        """The failures of these checks that no known finding explains."""
        return [f for f in self.failures if f.check in checks and known(f) is None]

    def figures(self) -> str:
        """One line for the test log."""
        by_check = Counter(f.check for f in self.failures)
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"schemathesis: {self.cases} cases generated, {self.requests} requests in {self.seconds:.0f} s; "
            f"statuses {{{statuses}}}; failures by check {dict(sorted(by_check.items())) or '{}'}; "
            f"server errors {len(self.server_errors)} "
            f"({sum(known(f) is not None for f in self.server_errors)} of them known findings)"
        )


def _decoded(content: Any) -> str:
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return str(content or "")


def _request(interaction: dict[str, Any]) -> str:
    request = interaction.get("request") or {}
    return f"{request.get('method', '?')} {request.get('uri', '?')} {_decoded(request.get('body'))[:300]}"


def _read_reports(run: FuzzRun, report_dir: Path) -> None:
    """Fill ``run`` from the reports (cases from the JSON report, requests and failures from NDJSON)."""
    summary = json.loads(next(report_dir.glob("*.json")).read_text())
    if summary.get("stop_reason") != "completed":
        raise AssertionError(f"schemathesis stopped early ({summary.get('stop_reason')}):\n{run.output[-3000:]}")
    run.cases = int(summary["test_cases"]["generated"])
    run.errors = [json.dumps(error)[:500] for error in summary.get("errors") or []]
    seen: set[tuple[str, str]] = set()
    for line in next(report_dir.glob("*.ndjson")).read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        interactions = recorder.get("interactions") or {}
        for interaction in interactions.values():
            response = interaction.get("response") or {}
            run.requests += 1
            status = response.get("status_code")
            if status is None:
                continue
            run.statuses[int(status)] += 1
            if int(status) >= 500:
                label = str(recorder.get("label", ""))
                body = _decoded(response.get("content"))
                run.server_errors.append(Failure("http_5xx", label, "", _request(interaction), int(status), body))
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                if check.get("status") == "success" or (case_id, check["name"]) in seen:
                    continue
                seen.add((case_id, check["name"]))
                info = (check.get("failure_info") or {}).get("failure") or {}
                interaction = interactions.get(case_id) or {}
                response = interaction.get("response") or {}
                run.failures.append(
                    Failure(
                        check=check["name"],
                        operation=str(info.get("operation", recorder.get("label", ""))),
                        message=str(info.get("message", "")).split("\n", 1)[0],
                        request=_request(interaction),
                        status=response.get("status_code"),
                        body=_decoded(response.get("content")),
                    )
                )


def run_schemathesis(gateway: LiveGateway, work_dir: Path) -> FuzzRun:
    """Run the Schemathesis CLI against ``gateway``; its reports go to ``work_dir``."""
    report_dir = work_dir / "reports"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        str(SPEC),
        "--url",
        gateway.url,
        "--checks",
        "all",
        "--generation-deterministic",  # the same cases every run, and no example database
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--report",
        "json,ndjson",
        "--report-dir",
        str(report_dir),
        "--continue-on-failure",  # a failure does not shorten the run: the figures stay comparable
        "--no-color",
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work_dir),
        "FUZZ_API_TOKEN": gateway.api_token,
        "FUZZ_AGENT_TOKEN": gateway.agent_token,
        "NO_PROXY": "*",
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=work_dir, env=env, capture_output=True, text=True, timeout=BUDGET_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"schemathesis took more than its {BUDGET_S} s budget") from exc
    run = FuzzRun(command, done.returncode, time.monotonic() - started, output=done.stdout + done.stderr)
    if done.returncode not in (0, 1):  # 1: some check failed; anything else: it could not run
        raise AssertionError(f"schemathesis could not run (exit {done.returncode}):\n{run.output[-3000:]}")
    _read_reports(run, report_dir)
    return run


@pytest.fixture(scope="module")
def fuzz_run(
    live_gateway: LiveGateway, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[FuzzRun]:
    """One Schemathesis run against the live gateway; its figures are printed."""
    require(SCHEMATHESIS.exists(), f"{SCHEMATHESIS.relative_to(PROJECT_ROOT)} is missing (run `make tools`)")
    run = run_schemathesis(live_gateway, tmp_path_factory.mktemp("schemathesis"))
    print(run.figures())
    request.config.stash.setdefault(FIGURES, []).append(run.figures())
    yield run


def _listed(failures: list[Any]) -> str:
    return "\n".join(str(f) for f in failures[:20]) + (f"\n... {len(failures) - 20} more" if len(failures) > 20 else "")


def test_enough_cases_were_generated(fuzz_run: FuzzRun) -> None:
    assert fuzz_run.cases >= MIN_CASES, fuzz_run.figures()
    assert fuzz_run.requests >= MIN_CASES, fuzz_run.figures()


def test_no_server_errors(fuzz_run: FuzzRun, live_gateway: LiveGateway) -> None:
    failures = fuzz_run.failed(SERVER_CHECKS)
    assert not failures, _listed(failures)
    answers = [f for f in fuzz_run.server_errors if known(f) is None]
    assert not answers, _listed(answers)
    logged = unknown_log_lines(live_gateway.unhandled_errors)
    assert not logged, _listed(logged)


def test_responses_conform_to_the_spec(fuzz_run: FuzzRun) -> None:
    """Status codes, content types, headers and bodies are those docs/openapi.yaml describes."""
    failures = fuzz_run.failed(RESPONSE_CHECKS)
    assert not failures, _listed(failures)


def test_inputs_are_checked_as_the_spec_says(fuzz_run: FuzzRun) -> None:
    """Invalid requests are refused, valid ones accepted, a missing or wrong token is a 401."""
    failures = fuzz_run.failed(INPUT_CHECKS)
    assert not failures, _listed(failures)


def test_unsupported_methods_get_405_with_allow(fuzz_run: FuzzRun) -> None:
    failures = fuzz_run.failed(METHOD_CHECKS)
    assert not failures, _listed(failures)


def test_no_other_failures_or_errors(fuzz_run: FuzzRun) -> None:
    """Checks not named above (use_after_free, ensure_resource_availability, new ones) and run errors."""
    named = SERVER_CHECKS | RESPONSE_CHECKS | INPUT_CHECKS | METHOD_CHECKS
    failures = [f for f in fuzz_run.failures if f.check not in named and known(f) is None]
    assert not failures, _listed(failures)
    assert not fuzz_run.errors, _listed(fuzz_run.errors)


# Only while there are known findings (an empty parameter set would show up as a skip).
if KNOWN_FINDINGS:

    @pytest.mark.parametrize(
        "finding",
        [pytest.param(f, id=f.name, marks=pytest.mark.xfail(strict=True, reason=f.reason)) for f in KNOWN_FINDINGS],
    )
    def test_known_finding_is_fixed(fuzz_run: FuzzRun, live_gateway: LiveGateway, finding: KnownFinding) -> None:
        """Each known finding, on its own: the fuzzer no longer sees it (an XPASS means: remove the entry)."""
        seen = [f for f in fuzz_run.failures + fuzz_run.server_errors if known(f) is finding]
        if finding.log:
            seen += [line for line in live_gateway.unhandled_errors if re.search(finding.log, line)]
        assert not seen, _listed(seen)
