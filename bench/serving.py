"""Benchmark: serving speed of the whole stack against its bare Rasa server and Rasa's own starter bot.

In one invocation, one set-up after the other (never two at once: the machine has 2 cores):

``stack-api``
    The bot as ``make run`` starts it (SQLite, one gateway, Rasa server and action server),
    over the direct API (``POST /api/v1/messages``).
``stack-ws``
    The same stack over the web widget's WebSocket protocol: a tab per conversation, ``hello``,
    then each message and the turn's replies up to ``typing {on: false}``.
``bare``
    The same stack's own Rasa server without the gateway: its customer channel's webhook
    (``/webhooks/gateway/webhook``, signed as the gateway signs), with the same messages and the
    metadata the gateway would send (the signed turn token saying who wrote). Its action server
    still runs the actions: the same dialogue work, minus the gateway.
``starter``
    The stock ``rasa init`` bot made in a temporary folder with the same Rasa (trained once and
    kept in ``var/bench/starter-<rasa version>``), over Rasa's REST webhook.

Each set-up is measured at concurrency 1, 10 and 50 (``--concurrency``), ``--messages`` messages
per point after a warm-up. The load is a mix of what customers write, as conversations:
greetings, product questions, policy (help) questions, a problem whose troubleshooting guide
then takes an answer (a guide step), and an account question of a verified customer (a
customer token on the gateway's transports, a turn token for the bare server; the starter gets
the same text). ``--think-ms`` waits between a conversation's messages (0 measures saturation).

Also measured: each Rasa server's resident memory after the load, the stack's cold start
(``python -m bot run --no-train`` to ready, with the trained model) and the starter's.

Run from the repository root after ``make train``::

    .venv/bin/python bench/serving.py [--messages 200] [--concurrency 1,10,50] [--setups ...]
    .venv/bin/python bench/serving.py --profile   # also sample the stack with py-spy (make tools)

Writes ``bench/results/serving.json`` and ``docs/img/serving.png``; docs/performance.md reads them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scaling import stack_processes
from bot.db.seed import load_demo_data
from bot.dialogue.signing import signed_headers
from bot.identity.tokens import mint_customer_token
from bot.identity.turns import METADATA_KEY, TurnIdentity, mint_turn_token
from bot.settings import PROJECT_ROOT
from bot.supervisor import rss_mib
from tests.helpers import free_port
from tests.stack import E2E_CHANNEL_SECRET, E2E_IDENTITY_SECRET, E2E_TURN_SECRET, RunningStack, start_stack

RESULTS = PROJECT_ROOT / "bench" / "results" / "serving.json"
PLOT = PROJECT_ROOT / "docs" / "img" / "serving.png"
STARTER_CACHE = PROJECT_ROOT / "var" / "bench"
SETUPS = ("stack-api", "stack-ws", "bare", "starter")
#: A verified demo customer with a subscription (the account question's answer is their bill).
CUSTOMER = next(s.customer_id for s in load_demo_data(PROJECT_ROOT / "data").subscriptions)


@dataclass(frozen=True)
class Script:
    """One conversation of the mix: its messages, in order, and whether the customer is verified."""

    name: str
    messages: tuple[str, ...]
    verified: bool = False


#: What customers write, as conversations, in rough proportion (a script appears as often as listed).
MIX: tuple[Script, ...] = (
    Script("greeting", ("hi",)),
    Script("greeting", ("hello there",)),
    Script("product", ("how much is the velo router?",)),
    Script("product", ("is the mesh trio in stock in berlin?",)),
    Script("product", ("what is the warranty on the powerlink kit?",)),
    Script("help", ("what's your return policy?",)),
    Script("help", ("how long does delivery take?",)),
    Script("help", ("do you ship to austria?",)),
    Script("guide", ("my wifi keeps dropping", "yes")),
    Script("guide", ("my internet is really slow", "no")),
    Script("account", ("when is my next bill?",), verified=True),
)


@dataclass
class Point:
    """What one concurrency level of one set-up measured."""

    latencies: list[float]
    errors: int
    wall_s: float

    def summary(self) -> dict[str, Any]:
        """Messages, errors, seconds, msg/s and latency percentiles (ms)."""
        ordered = sorted(self.latencies)
        done = len(ordered)
        return {
            "messages": done,
            "errors": self.errors,
            "seconds": round(self.wall_s, 2),
            "msg_per_s": round(done / self.wall_s, 2) if self.wall_s else None,
            "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
            "p95_ms": round(ordered[int(0.95 * (done - 1))] * 1000, 1) if ordered else None,
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        }


class Conversation:
    """One conversation on some transport: :meth:`open`, then :meth:`say` per message, then :meth:`close`."""

    async def open(self) -> None:
        """Start the conversation (a widget tab connects and says hello)."""

    async def say(self, text: str) -> None:
        """Send one message and wait for the turn's replies."""
        raise NotImplementedError

    async def close(self) -> None:
        """Leave."""


class DirectApi(Conversation):
    """The gateway's direct API: one request per message, answered with the turn's replies."""

    def __init__(self, session: aiohttp.ClientSession, stack: RunningStack, script: Script) -> None:
        self._session, self._stack = session, stack
        self._id = f"bench-{uuid.uuid4().hex[:16]}"
        self._token = mint_customer_token(CUSTOMER, E2E_IDENTITY_SECRET, ttl_s=3600) if script.verified else None

    async def say(self, text: str) -> None:
        """POST the message; the answer must carry replies."""
        body: dict[str, Any] = {"conversation_id": self._id, "text": text}
        if self._token is not None:
            body["customer_token"] = self._token
        headers = {"Authorization": f"Bearer {self._stack.api_token}"}
        async with self._session.post(f"{self._stack.gateway_url}/api/v1/messages", json=body, headers=headers) as r:
            data = await r.json()
            if r.status != 200 or not data.get("replies"):
                raise RuntimeError(f"direct API answered {r.status}: {str(data)[:200]}")


class Widget(Conversation):
    """A widget tab on the gateway's WebSocket: hello, then messages up to each turn's ``typing {on: false}``."""

    def __init__(self, session: aiohttp.ClientSession, stack: RunningStack, script: Script) -> None:
        self._session, self._stack = session, stack
        self._token = mint_customer_token(CUSTOMER, E2E_IDENTITY_SECRET, ttl_s=3600) if script.verified else None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def open(self) -> None:
        """Connect and say hello (verified by the customer token when the script is)."""
        self._ws = await self._session.ws_connect(f"{self._stack.gateway_url.replace('http', 'ws', 1)}/ws")
        hello: dict[str, Any] = {"type": "hello", "conversation_id": None, "after": None}
        if self._token is not None:
            hello["customer_token"] = self._token
        await self._ws.send_json(hello)
        while (await self._frame()).get("type") != "welcome":
            pass

    async def _frame(self) -> dict[str, Any]:
        assert self._ws is not None
        message = await self._ws.receive(timeout=60)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"the widget's socket got {message.type.name} {message.data!r}")
        return dict(json.loads(message.data))

    async def say(self, text: str) -> None:
        """Send the message; wait for the bot's replies and the end of typing."""
        assert self._ws is not None
        await self._ws.send_json({"type": "message", "text": text, "client_id": uuid.uuid4().hex})
        bot_replies = 0
        while True:
            frame = await self._frame()
            if frame.get("type") == "error":
                raise RuntimeError(f"widget error: {frame}")
            if frame.get("type") == "message" and frame.get("sender") == "bot":
                bot_replies += 1
            if frame.get("type") == "typing" and frame.get("on") is False and bot_replies:
                return

    async def close(self) -> None:
        """Close the tab."""
        if self._ws is not None:
            await self._ws.close()


class RasaWebhook(Conversation):
    """Rasa's REST webhook: the stack's own (signed, with the metadata the gateway sends) or the starter's."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, secret: str | None, script: Script | None = None
    ) -> None:
        self._session, self._url, self._secret = session, url, secret
        self._id = f"bench-{uuid.uuid4().hex[:16]}"
        self._customer = CUSTOMER if script is not None and script.verified else None
        self._vouch = script is not None

    def _metadata(self) -> dict[str, Any]:
        """What the gateway sends with a direct message (bot/conversations/service.py), its turn token included."""
        turn = uuid.uuid4().hex
        identity = TurnIdentity(
            conversation_id=self._id,
            channel="direct",
            channel_user=self._id,
            customer_id=self._customer,
            verified_by="token" if self._customer else None,
            turn=turn,
        )
        return {
            "channel": "direct",
            "conversation_id": self._id,
            "channel_user": self._id,
            "turn": turn,
            METADATA_KEY: mint_turn_token(identity, E2E_TURN_SECRET),
        }

    async def say(self, text: str) -> None:
        """POST the message to the webhook; the answer must not be empty."""
        message: dict[str, Any] = {"sender": self._id, "message": text}
        if self._vouch:
            message["metadata"] = self._metadata()
        body = json.dumps(message).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            headers.update(signed_headers(self._secret, body))
        async with self._session.post(self._url, data=body, headers=headers) as r:
            data = await r.json()
            if r.status != 200 or not data:
                raise RuntimeError(f"Rasa answered {r.status}: {str(data)[:200]}")


Factory = Callable[[aiohttp.ClientSession, Script], Conversation]


async def _load(factory: Factory, messages: int, concurrency: int, think_s: float, seed: int) -> Point:
    """``messages`` messages, as conversations of the mix, ``concurrency`` conversations at a time."""
    rng = random.Random(seed)
    scripts: list[Script] = []
    planned = 0
    while planned < messages:
        script = rng.choice(MIX)
        scripts.append(script)
        planned += len(script.messages)
    queue: asyncio.Queue[Script] = asyncio.Queue()
    for script in scripts:
        queue.put_nowait(script)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def user() -> None:
            nonlocal errors
            while not queue.empty():
                script = queue.get_nowait()
                conversation = factory(session, script)
                try:
                    await conversation.open()
                    for n, text in enumerate(script.messages):
                        if n and think_s:
                            await asyncio.sleep(think_s)
                        started = time.perf_counter()
                        await conversation.say(text)
                        latencies.append(time.perf_counter() - started)
                except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as exc:
                    errors += 1
                    if errors <= 3:
                        print(f"    error: {type(exc).__name__}: {exc}", flush=True)
                finally:
                    await conversation.close()

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return Point(latencies, errors, wall)


def _measure(label: str, factory: Factory, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{label}] warming up ({args.warmup} messages)…", flush=True)
    asyncio.run(_load(factory, args.warmup, 5, 0.0, seed=1))
    points: dict[str, Any] = {}
    for concurrency in args.concurrency:
        print(f"[{label}] {args.messages} messages, {concurrency} conversations at a time…", flush=True)
        point = asyncio.run(_load(factory, args.messages, concurrency, args.think_ms / 1000, seed=2)).summary()
        print(f"[{label}] c={concurrency}: {json.dumps(point)}", flush=True)
        points[str(concurrency)] = point
    return points


def _stack_setups(args: argparse.Namespace, wanted: list[str], results: dict[str, Any]) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="bench-serving-")) / "var"
    print("[stack] starting python -m bot run --no-train…", flush=True)
    started = time.perf_counter()
    # One load generator on one address stands for many customers: the per-client limits are lifted.
    limits = {
        "BOT_API_RATE_PER_CLIENT": "100000",
        "BOT_API_RATE_TOTAL": "100000",
        "BOT_WS_MAX_PER_CLIENT": "10000",
        "BOT_WS_MAX_CONNECTIONS": "10000",
    }
    stack = start_stack(var_dir, PROJECT_ROOT / "models", extra_env=limits)
    results["cold_start_s"]["stack"] = round(time.perf_counter() - started, 1)
    print(f"[stack] ready in {results['cold_start_s']['stack']} s", flush=True)
    profiler = None
    try:
        pids = {tier: pid for pid, tier in stack_processes(stack).items()}
        factories: dict[str, Factory] = {
            "stack-api": lambda session, script: DirectApi(session, stack, script),
            "stack-ws": lambda session, script: Widget(session, stack, script),
            "bare": lambda session, script: RasaWebhook(
                session, f"{stack.rasa_url}/webhooks/gateway/webhook", E2E_CHANNEL_SECRET, script
            ),
        }
        for label in [s for s in SETUPS if s in wanted and s in factories]:
            if args.profile and label == "stack-api":
                profiler = _start_profiler(pids, var_dir)
            results["setups"][label] = _measure(label, factories[label], args)
            if profiler is not None:
                results["profile"] = _stop_profiler(profiler)
                profiler = None
        results["rss_mib"]["stack"] = {tier: round(rss_mib(pid) or 0.0, 1) for tier, pid in sorted(pids.items())}
    finally:
        if profiler is not None:
            _stop_profiler(profiler)
        stack.stop()
        shutil.rmtree(var_dir.parent, ignore_errors=True)


def _rasa_version() -> str:
    from importlib.metadata import version

    return version("rasa")


def _starter_dir() -> Path:
    """The stock ``rasa init`` project, made and trained once per Rasa version."""
    folder = STARTER_CACHE / f"starter-{_rasa_version()}"
    if list((folder / "models").glob("*.tar.gz")):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="starter-", dir=folder.parent))
    log = folder.parent / "starter-init.log"
    print(f"[starter] rasa init --no-prompt in {staging}: trains the starter bot, a few minutes (log: {log})…")
    with open(log, "wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(staging)],
            cwd=staging,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        raise SystemExit(f"rasa init failed ({done.returncode}); see {log}")
    staging.rename(folder)
    return folder


def _starter(args: argparse.Namespace, results: dict[str, Any]) -> None:
    folder = _starter_dir()
    port = free_port()
    log = open(folder / "bench-rasa.log", "wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--port", str(port), "--interface", "127.0.0.1",
         "--credentials", "credentials.yml", "--endpoints", "endpoints.yml", "--model", "models"],
        cwd=folder, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/", process)
        results["cold_start_s"]["starter"] = round(time.perf_counter() - started, 1)
        print(f"[starter] ready in {results['cold_start_s']['starter']} s", flush=True)
        results["setups"]["starter"] = _measure(
            "starter", lambda session, script: RasaWebhook(session, f"{url}/webhooks/rest/webhook", None), args
        )
        results["rss_mib"]["starter"] = {"rasa": round(rss_mib(process.pid) or 0.0, 1)}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the starter's Rasa exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own http:// URL
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the starter's Rasa did not come up")


# -- the profile ---------------------------------------------------------------------------------


def _py_spy() -> str:
    found = PROJECT_ROOT / ".venv-tools" / "bin" / "py-spy"
    if not found.exists():
        raise SystemExit("--profile needs py-spy: make tools")
    return str(found)


def _start_profiler(pids: dict[str, int], var_dir: Path) -> list[tuple[str, Path, subprocess.Popen[bytes]]]:
    """py-spy sampling the gateway, Rasa and the action server (raw folded stacks), while the load runs."""
    running = []
    for tier, pid in sorted(pids.items()):
        out = var_dir.parent / f"{tier}.folded"
        process = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--output", str(out),
             "--nonblocking", "--gil"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        running.append((tier, out, process))
    time.sleep(1)
    return running


def _stop_profiler(running: list[tuple[str, Path, subprocess.Popen[bytes]]]) -> dict[str, Any]:
    """Stop the samplers; the share of samples per function (self and inclusive), per tier."""
    profile: dict[str, Any] = {}
    for tier, out, process in running:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        if out.exists():
            profile[tier] = summarise_folded(out.read_text(encoding="utf-8", errors="replace"))
            kept = PROJECT_ROOT / "bench" / "results" / f"serving-{tier}.folded"
            shutil.copy(out, kept)
    return profile


def summarise_folded(text: str, top: int = 25) -> dict[str, Any]:
    """Folded stacks (``frame;frame;frame count``) -> busy share and the top inclusive functions."""
    total = busy = 0
    inclusive: dict[str, int] = {}
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in ("select (selectors", "poll (selectors", "epoll", "wait (threading")):
            continue  # idle: waiting for work
        busy += count
        for frame in dict.fromkeys(_short(f) for f in frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return {
        "samples": total,
        "busy_share": round(busy / total, 3) if total else None,
        "top_inclusive": [{"frame": f, "share_of_busy": round(c / busy, 3)} for f, c in ranked] if busy else [],
    }


def _short(frame: str) -> str:
    """``function (path/to/module.py:123)`` -> ``function (module.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:])})" if parts else name


# -- the plot ------------------------------------------------------------------------------------


def _plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setups = [s for s in SETUPS if s in results["setups"]]
    levels = results["concurrency"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    width = 0.8 / max(len(setups), 1)
    colours = {"stack-api": "#0f766e", "stack-ws": "#14b8a6", "bare": "#b45309", "starter": "#6b7280"}
    for panel, (key, title) in zip(
        axes,
        [("msg_per_s", "Messages per second"), ("p50_ms", "p50 latency, ms"), ("p95_ms", "p95 latency, ms")],
        strict=True,
    ):
        for i, setup in enumerate(setups):
            values = [results["setups"][setup].get(str(c), {}).get(key) or 0 for c in levels]
            xs = [n + (i - (len(setups) - 1) / 2) * width for n in range(len(levels))]
            panel.bar(xs, values, width, label=setup, color=colours.get(setup))
        panel.set_xticks(range(len(levels)), [f"c={c}" for c in levels])
        panel.set_title(title)
        if key != "msg_per_s":
            panel.set_yscale("log")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Serving on 2 cores, {results['messages']} messages per point ({results.get('commit', '')})")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=110)


# -- the targets ---------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and whether it holds (missing figures: not met)."""

    def figure(setup: str, level: int, key: str) -> float | None:
        value = results["setups"].get(setup, {}).get(str(level), {}).get(key)
        return float(value) if value is not None else None

    checks: list[dict[str, Any]] = []

    def check(name: str, measured: float | None, limit: float | None, *, at_least: bool) -> None:
        met = measured is not None and limit is not None and (measured >= limit if at_least else measured <= limit)
        checks.append({"target": name, "measured": measured, "limit": limit, "met": met})

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    for level in (1, 10):
        measured = ratio(figure("stack-api", level, "msg_per_s"), figure("starter", level, "msg_per_s"))
        check(f"full stack msg/s / starter msg/s at c={level}", measured, 1.0, at_least=True)
    bare_p50 = figure("bare", 1, "p50_ms")
    check("full stack p50 at c=1, ms (limit: bare p50 + 5)", figure("stack-api", 1, "p50_ms"),
          bare_p50 + 5 if bare_p50 is not None else None, at_least=False)  # fmt: skip

    # Saturation throughput: the most messages a second a set-up served at any concurrency measured.
    def best(setup: str) -> float | None:
        rates = [figure(setup, level, "msg_per_s") for level in results["concurrency"]]
        return max((rate for rate in rates if rate is not None), default=None)

    check(
        "full stack saturation msg/s / bare saturation msg/s",
        ratio(best("stack-api"), best("bare")),
        0.9,
        at_least=True,
    )
    saturation = max(results["concurrency"])
    measured = ratio(figure("stack-api", saturation, "p95_ms"), figure("bare", saturation, "p95_ms"))
    check(f"full stack p95 / bare p95 at c={saturation}", measured, 1.5, at_least=False)
    rasa_rss = results["rss_mib"].get("stack", {}).get("rasa")
    check("Rasa server RSS, MiB", rasa_rss, 800, at_least=False)
    check("cold start with a trained model, s", results["cold_start_s"].get("stack"), 15, at_least=False)
    return checks


def _report(checked: list[dict[str, Any]]) -> None:
    for row in checked:
        print(f"  {'met    ' if row['met'] else 'NOT MET'}  {row['target']}: {row['measured']} (limit {row['limit']})")


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+changes" if dirty else "")
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Measure the set-ups one after the other; write the results, the plot and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrency", default="1,10,50", help="comma-separated levels")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a conversation's messages")
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated, of " + ", ".join(SETUPS))
    parser.add_argument("--profile", action="store_true", help="sample the stack with py-spy during stack-api")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the results file")
    parser.add_argument("--recheck", action="store_true", help="check the targets of the results file again")
    args = parser.parse_args(argv)
    if args.plot_only:
        _plot(json.loads(args.output.read_text(encoding="utf-8")))
        return 0
    if args.recheck:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        results["targets"] = targets(results)
        _report(results["targets"])
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        return 0
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    wanted = [s.strip() for s in args.setups.split(",") if s.strip()]
    unknown = set(wanted) - set(SETUPS)
    if unknown:
        parser.error(f"unknown set-ups: {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {
        "commit": _commit(),
        "messages": args.messages,
        "concurrency": args.concurrency,
        "think_ms": args.think_ms,
        "mix": [{"name": s.name, "messages": list(s.messages), "verified": s.verified} for s in MIX],
        "setups": {},
        "rss_mib": {},
        "cold_start_s": {},
    }
    if set(wanted) & {"stack-api", "stack-ws", "bare"}:
        _stack_setups(args, wanted, results)
    if "starter" in wanted:
        _starter(args, results)
    results["targets"] = targets(results)
    _report(results["targets"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _plot(results)
    print(f"wrote {args.output} and {PLOT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
