"""Start the Rasa server, the action server and the gateway; stop all three cleanly.

``python -m bot run`` (what ``make run`` calls) migrates and seeds the database, trains the
model if needed, then runs this supervisor until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bot.dialogue.endpoints import rasa_endpoints, rasa_environment
from bot.settings import Settings


@dataclass
class ManagedProcess:
    """One child process, its readiness probe and its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after_s: float | None = None
    log_handle: BinaryIO | None = field(default=None, repr=False)
    restarts: int = 0

    def rss_mb(self) -> float | None:
        """Resident memory of the process in MiB (Linux), or None when it is not running."""
        if self.process is None or self.process.poll() is not None:
            return None
        return rss_mib(self.process.pid)


def rss_mib(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MiB (Linux), or None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _private_log(path: Path) -> BinaryIO:
    """Open a log file for appending, readable by its owner only (0600, in a 0700 folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file keeps its mode otherwise
    return os.fdopen(descriptor, "ab")


def _probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


#: What every child process gets: no telemetry, no TensorFlow chatter, logs line by line.
QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONUNBUFFERED": "1",
}


#: TensorFlow (and oneDNN) in the servers compute one request at a time on one thread each. Their
#: default pools, as wide as the machine, spun for work when the cores were shared with the other
#: processes: a turn cost Rasa 58 ms of CPU instead of 31, and the action server 15 instead of 5
#: (docs/performance.md). More cores serve more requests, not one request faster. An operator's
#: own setting of these variables wins.
SERVING_THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process: ours, ``settings`` as ``BOT_*`` variables, :data:`QUIET_ENV`.

    Also :data:`SERVING_THREADS` (unless set), and ``runtime/without_jax`` leads its
    ``PYTHONPATH``: TensorFlow then loads without JAX (65 MiB less per Rasa and action server;
    see the folder's ``jax/__init__.py``).
    """
    shim = str(settings.paths.project_root / "runtime" / "without_jax")
    path = os.pathsep.join(part for part in (shim, os.environ.get("PYTHONPATH", "")) if part)
    return {**SERVING_THREADS, **os.environ, **settings.child_environment(), **QUIET_ENV, "PYTHONPATH": path}


def write_endpoints(settings: Settings) -> Path:
    """The Rasa server's endpoints file for ``settings`` (bot/dialogue/endpoints.py), in ``var/run/``."""
    template = (settings.paths.project_root / "endpoints.yml").read_text(encoding="utf-8")
    path = settings.paths.var_dir / "run" / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rasa_endpoints(template, settings.services), encoding="utf-8")  # no secret: ${...} names
    return path


def rasa_argv(settings: Settings, model: Path, python: str = sys.executable) -> list[str]:
    """The command line of a Rasa server for ``settings`` serving ``model`` (writes its endpoints file)."""
    root = settings.paths.project_root
    return [
        python,
        "-m",
        "rasa",
        "run",
        "--model",
        str(model),
        "--enable-api",
        "--auth-token",
        settings.dialogue.token,
        "--interface",
        settings.dialogue.rasa_host,
        "--port",
        str(settings.dialogue.rasa_port),
        "--endpoints",
        str(write_endpoints(settings)),
        "--credentials",
        str(root / "credentials.yml"),
    ]


class Supervisor:
    """Owns the three processes of a running bot."""

    def __init__(
        self,
        settings: Settings,
        model: Path,
        *,
        python: str = sys.executable,
        processes: list[ManagedProcess] | None = None,
    ) -> None:
        """Prepare (not start) the processes for ``settings`` serving ``model`` (or ``processes``: a cluster's)."""
        self._settings = settings
        log_dir = settings.paths.var_dir / "logs"
        base_env = child_env(settings)
        self.processes = [
            ManagedProcess(
                name="rasa",
                argv=rasa_argv(settings, model, python),
                # The endpoints file reads where the action server is (and its token, in base_env).
                env={**base_env, **rasa_environment(settings.dialogue, settings.services)},
                ready_url=f"{settings.dialogue.rasa_url}/status?token={settings.dialogue.token}",
                log_path=log_dir / "rasa.log",
            ),
            ManagedProcess(
                name="actions",
                # Rasa SDK's server behind the action token (actions/server.py reads it from base_env).
                argv=[
                    python,
                    "-m",
                    "actions.server",
                    "--host",
                    settings.dialogue.action_host,
                    "--port",
                    str(settings.dialogue.action_port),
                ],
                env=base_env,
                ready_url=f"{settings.dialogue.action_url}/health",
                log_path=log_dir / "actions.log",
            ),
            ManagedProcess(
                name="gateway",
                argv=[python, "-m", "bot", "gateway"],
                env=base_env,
                ready_url=f"http://127.0.0.1:{settings.gateway.port}/healthz",
                log_path=log_dir / "gateway.log",
            ),
        ]
        if processes is not None:
            self.processes = processes
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start every process, each in its own session so a terminal's Ctrl-C reaches only us."""
        for managed in self.processes:
            self._spawn(managed)

    def _spawn(self, managed: ManagedProcess) -> None:
        if managed.log_handle is None:
            managed.log_handle = _private_log(managed.log_path)
        managed.started_at = time.monotonic()
        managed.process = subprocess.Popen(
            managed.argv,
            cwd=self._settings.paths.project_root,
            env=managed.env,
            stdin=subprocess.DEVNULL,
            stdout=managed.log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def dead(self) -> list[ManagedProcess]:
        """Processes that have exited."""
        return [m for m in self.processes if m.process is not None and m.process.poll() is not None]

    def wait_ready(self, timeout_s: float, progress: Callable[[str], None] = print) -> bool:
        """Wait until every process answers its probe; False on timeout, a death or a stop."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._stopping.is_set():
            for managed in self.processes:
                if managed.ready_after_s is None and _probe(managed.ready_url):
                    managed.ready_after_s = time.monotonic() - managed.started_at
                    progress(f"  {managed.name:<8} ready after {managed.ready_after_s:5.1f} s")
            if all(m.ready_after_s is not None for m in self.processes):
                return True
            if self.dead():
                return False
            self._stopping.wait(0.5)
        return False

    def request_stop(self) -> None:
        """Ask :meth:`run_until_stopped` to return (safe from a signal handler)."""
        self._stopping.set()

    def run_until_stopped(
        self, *, restart: bool = False, progress: Callable[[str], None] = print
    ) -> ManagedProcess | None:
        """Block until a stop is requested or a process dies; returns the dead process.

        With ``restart`` (a cluster, where the other replicas carry on meanwhile) a process that
        dies is started again instead, as an orchestrator would restart a pod; one that dies
        again within 10 s of its start ends the run.
        """
        while not self._stopping.wait(1.0):
            for managed in self.dead():
                lived = time.monotonic() - managed.started_at
                if not restart or lived < 10:
                    return managed
                code = managed.process.poll() if managed.process is not None else None
                progress(f"  {managed.name} exited with code {code} after {lived:.0f} s; starting it again")
                managed.restarts += 1
                self._spawn(managed)
        return None

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every process (gateway first), then SIGKILL what is left after ``timeout_s``."""
        for managed in reversed(self.processes):
            if managed.process is not None and managed.process.poll() is None:
                managed.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for managed in reversed(self.processes):
            if managed.process is None:
                continue
            try:
                managed.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(managed.process.pid, signal.SIGKILL)
                managed.process.wait()
            handle = managed.log_handle
            if handle is not None:
                handle.close()

    def describe_failure(self, managed: ManagedProcess) -> str:
        """Which process failed, its exit code and the end of its log."""
        code = managed.process.poll() if managed.process is not None else None
        tail = _log_tail(managed.log_path)
        return f"{managed.name} exited with code {code}; last lines of {managed.log_path}:\n{tail}"
