"""Soak: mixed traffic at half of saturation for a long while; memory, lost and duplicated replies.

Starts the real bot (``python -m bot run`` on free ports, the trained model), finds the turn
rate it saturates at (closed-loop clients, doubling until throughput stops growing), then runs
widget sessions over WebSocket and direct-API conversations at half that rate for
``--minutes`` (30 by default). Every minute it prints and records the resident memory of the
Rasa server, the action server and the gateway. At the end it reads every conversation back
and counts customer messages that got no reply (lost) and messages or replies stored twice
(duplicated).

Run from the repository root (after ``make train``)::

    .venv/bin/python bench/soak.py [--minutes 30] [--rate TURNS_PER_S] [--attach URL --api-token T]

Writes ``bench/results/soak.json`` and ``docs/img/soak.png`` (memory over time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.settings import PROJECT_ROOT  # noqa: E402
from bot.supervisor import rss_mib  # noqa: E402
from tests.stack import RunningStack, start_stack  # noqa: E402

RESULTS_FILE = ROOT / "bench" / "results" / "soak.json"
PLOT_FILE = ROOT / "docs" / "img" / "soak.png"
#: What customers say (each answered by the model without records or a handoff).
TEXTS = ("hi", "what are your opening hours?", "how much is the Nimbus AX3000 router?", "thanks, bye")
#: All the soak's traffic comes from one address: the per-client limits, meant for one customer's
#: browser or script, would turn it away. The global limits stay as configured.
SOAK_ENV = {"BOT_API_RATE_PER_CLIENT": "1000", "BOT_WS_MAX_PER_CLIENT": "1000"}
#: Memory growth allowed after the warm-up (the issue's target).
MAX_GROWTH = 0.10


@dataclass
class Tally:
    """What the traffic did."""

    sent: int = 0
    answered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    conversations: set[str] = field(default_factory=set)

    def error(self, kind: str) -> None:
        """Count one failure of ``kind``."""
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _children(pid: int) -> dict[str, int]:
    """The supervisor's three processes by name (rasa, actions, gateway)."""
    found: dict[str, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields.get("PPid", "0").strip()) != pid:
                continue
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        name = "rasa" if " rasa run" in cmdline else "actions" if "actions" in cmdline else "gateway"
        found[name] = int(status.parent.name)
    return found


async def _direct_turn(session: aiohttp.ClientSession, url: str, token: str, tally: Tally) -> None:
    conversation = f"soak-d-{uuid.uuid4().hex[:12]}"
    tally.conversations.add(conversation)
    for text in random.sample(TEXTS, 2):
        started = time.perf_counter()
        tally.sent += 1
        try:
            async with session.post(
                f"{url}/api/v1/messages",
                json={"conversation_id": conversation, "text": text},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            ) as response:
                await response.read()
                if response.status in (200, 202):
                    tally.answered += 1
                    tally.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    tally.error(f"http_{response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            tally.error(type(exc).__name__)


async def _widget_turn(session: aiohttp.ClientSession, url: str, tally: Tally) -> None:
    ws_url = url.replace("http", "ws", 1) + "/ws"
    try:
        async with session.ws_connect(ws_url) as ws:
            await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
            welcome = await ws.receive_json(timeout=30)
            tally.conversations.add(welcome["conversation_id"])
            started = time.perf_counter()
            tally.sent += 1
            await ws.send_json({"type": "message", "text": random.choice(TEXTS), "client_id": uuid.uuid4().hex})
            while True:
                frame = await ws.receive_json(timeout=60)
                if frame.get("type") == "message" and frame.get("sender") == "bot":
                    tally.answered += 1
                    tally.latencies_ms.append((time.perf_counter() - started) * 1000)
                    return
    except (aiohttp.ClientError, asyncio.TimeoutError, TypeError, ValueError) as exc:
        tally.error(type(exc).__name__)


#: Mixed traffic: this share of arrivals are direct-API conversations (two turns), the rest widget sessions (one).
DIRECT_SHARE = 0.7
TURNS_PER_ARRIVAL = DIRECT_SHARE * 2 + (1 - DIRECT_SHARE) * 1


async def _one(session: aiohttp.ClientSession, url: str, token: str, tally: Tally) -> None:
    """One arrival of mixed traffic: a direct-API conversation or a widget session."""
    if random.random() < DIRECT_SHARE:
        await _direct_turn(session, url, token, tally)
    else:
        await _widget_turn(session, url, tally)


async def _saturation(
    session: aiohttp.ClientSession, url: str, token: str, seconds: float
) -> tuple[float, list[dict[str, Any]]]:
    """Closed-loop clients, doubling until throughput stops growing; the best turns per second."""
    steps: list[dict[str, Any]] = []
    best = 0.0
    for clients in (1, 2, 4, 8, 16, 32):
        tally = Tally()
        deadline = time.monotonic() + seconds

        async def client(tally: Tally = tally, deadline: float = deadline) -> None:
            while time.monotonic() < deadline:
                await _direct_turn(session, url, token, tally)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        rate = tally.answered / (time.monotonic() - started)
        steps.append({"clients": clients, "turns_per_s": round(rate, 2), "errors": tally.errors})
        print(f"  saturation probe: {clients:2d} clients -> {rate:6.2f} turns/s", flush=True)
        if rate < best * 1.1:
            break
        best = max(best, rate)
    return best, steps


async def _soak(
    session: aiohttp.ClientSession, url: str, token: str, rate: float, minutes: float, pid: int | None
) -> tuple[Tally, list[dict[str, Any]]]:
    tally = Tally()
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    end = started + minutes * 60
    next_sample = started
    pending: set[asyncio.Task[None]] = set()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_sample:
            rss = {name: rss_mib(child) for name, child in _children(pid).items()} if pid else {}
            sample = {"minute": round((now - started) / 60, 2), "rss_mib": rss, "sent": tally.sent}
            samples.append(sample)
            p95 = statistics.quantiles(tally.latencies_ms, n=20)[18] if len(tally.latencies_ms) > 20 else None
            memory = ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items() if v)
            print(
                f"  minute {sample['minute']:5.1f}: sent {tally.sent}, answered {tally.answered}, "
                f"errors {sum(tally.errors.values())}, p95 {p95 or 0:.0f} ms; {memory}",
                flush=True,
            )
            next_sample += 60
        task = asyncio.create_task(_one(session, url, token, tally))
        pending.add(task)
        task.add_done_callback(pending.discard)
        # Open loop: arrivals do not wait for answers; ``rate`` counts turns, an arrival brings several.
        await asyncio.sleep(random.expovariate(rate / TURNS_PER_ARRIVAL))
    if pending:
        await asyncio.wait(pending, timeout=120)
    return tally, samples


async def _audit(session: aiohttp.ClientSession, url: str, token: str, conversations: set[str]) -> dict[str, int]:
    """Read every conversation back: customer messages without a reply, and anything stored twice."""
    lost = duplicated = 0
    for conversation in sorted(conversations):
        async with session.get(
            f"{url}/api/v1/conversations/{conversation}/messages", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            if response.status != 200:
                continue
            messages = (await response.json())["messages"]
        client_ids = [m["client_id"] for m in messages if m["sender"] == "customer" and m.get("client_id")]
        duplicated += len(client_ids) - len(set(client_ids))
        turns: list[list[str]] = []
        for message in messages:
            if message["sender"] == "customer":
                turns.append([])
            elif turns:
                turns[-1].append(message["text"])
        lost += sum(1 for replies in turns if not replies)
        duplicated += sum(1 for replies in turns if len(replies) >= 2 and replies[: len(replies) // 2] * 2 == replies)
    return {"conversations": len(conversations), "lost": lost, "duplicated": duplicated}


def _growth(samples: list[dict[str, Any]], warmup_minutes: float) -> dict[str, float]:
    """Per process: (last sample - first sample after warm-up) / that first sample."""
    after = [s for s in samples if s["minute"] >= warmup_minutes and s["rss_mib"]]
    if len(after) < 2:
        return {}
    first, last = after[0]["rss_mib"], after[-1]["rss_mib"]
    return {
        name: round((last[name] - first[name]) / first[name], 4) for name in first if first[name] and last.get(name)
    }


def _write(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")


def _plot(samples: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axis = plt.subplots(figsize=(8, 4))
    names = sorted({name for s in samples for name in s["rss_mib"]})
    for name in names:
        points = [(s["minute"], s["rss_mib"].get(name)) for s in samples if s["rss_mib"].get(name)]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    axis.set_xlabel("minute")
    axis.set_ylabel("resident memory (MiB)")
    axis.set_title("Soak: resident memory per process")
    axis.legend()
    figure.tight_layout()
    figure.savefig(PLOT_FILE, dpi=100)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole soak; returns the results (also written to ``--out``)."""
    stack: RunningStack | None = None
    if args.attach:
        url, token, pid = args.attach.rstrip("/"), args.api_token, args.supervisor_pid
    else:
        print("Starting the bot (python -m bot run) on free ports…", flush=True)
        stack = start_stack(Path(args.var_dir), PROJECT_ROOT / "models", extra_env=SOAK_ENV)
        url, token, pid = stack.gateway_url, stack.api_token, stack.process.pid
    try:
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            saturation: float | None = None
            steps: list[dict[str, Any]] = []
            if args.rate:
                rate = args.rate
            else:
                print("Finding the saturation rate…", flush=True)
                saturation, steps = await _saturation(session, url, token, args.probe_seconds)
                rate = saturation / 2
            print(f"Soaking at {rate:.2f} turns/s for {args.minutes:g} minutes…", flush=True)
            tally, samples = await _soak(session, url, token, rate, args.minutes, pid)
            print("Reading every conversation back…", flush=True)
            audit = await _audit(session, url, token, tally.conversations)
    finally:
        if stack is not None:
            stack.stop()
    growth = _growth(samples, args.warmup_minutes)
    latencies = sorted(tally.latencies_ms)
    results = {
        "minutes": args.minutes,
        "saturation_turns_per_s": saturation,
        "saturation_probe": steps,
        "rate_turns_per_s": rate,
        "achieved_turns_per_s": round(tally.sent / (args.minutes * 60), 2),
        "sent": tally.sent,
        "answered": tally.answered,
        "errors": tally.errors,
        "latency_ms": {
            "p50": latencies[len(latencies) // 2] if latencies else None,
            "p95": latencies[int(0.95 * (len(latencies) - 1))] if latencies else None,
        },
        "audit": audit,
        "memory_samples": samples,
        "memory_growth_after_warmup": growth,
        "growth_ok": all(value < MAX_GROWTH for value in growth.values()),
    }
    out = Path(args.out)
    await asyncio.to_thread(_write, out, results)
    if args.out == str(RESULTS_FILE):
        await asyncio.to_thread(_plot, samples)
    print(
        f"Done: {tally.sent} sent, {tally.answered} answered, lost {audit['lost']}, duplicated "
        f"{audit['duplicated']}, memory growth after warm-up {growth or 'n/a'} -> {out}",
        flush=True,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line; exit 1 when a reply was lost or duplicated, or memory grew too much."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="turns per second (default: half of saturation)")
    parser.add_argument("--probe-seconds", type=float, default=20.0)
    parser.add_argument("--attach", default="", help="soak a running gateway at this URL instead of starting one")
    parser.add_argument("--api-token", default="")
    parser.add_argument("--supervisor-pid", type=int, default=0, help="with --attach: sample its children's memory")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "soak"))
    parser.add_argument("--out", default=str(RESULTS_FILE))
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    ok = results["audit"]["lost"] == 0 and results["audit"]["duplicated"] == 0 and results["growth_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
