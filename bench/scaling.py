"""Benchmark: throughput, CPU per message and memory of each tier, one host against the local cluster.

Starts, one after the other, the bot as ``make run`` does (SQLite, one of each process) and the
local cluster as ``make run-cluster`` does (PostgreSQL, Redis, RabbitMQ, HAProxy) with one and
with two replicas of each process. Against each it sends the same load over the direct API:
``--messages`` messages, ``--concurrency`` at a time, each the first message of a new
conversation, drawn from a mix of what customers write (greetings, prices, stock, policy
questions, problems that open a guide). It measures messages per second, latency (p50, p95),
the CPU seconds each tier spent per message (from ``/proc/<pid>/stat`` before and after: the
cost that sizes a deployment) and each process's resident memory.

Run from the repository root after ``make train`` (the cluster needs the machine's PostgreSQL,
Redis, RabbitMQ and ``make haproxy``)::

    .venv/bin/python bench/scaling.py [--messages 200] [--concurrency 10]
    .venv/bin/python bench/scaling.py --websockets 1000   # memory per open widget tab, added to the results

Writes ``bench/results/scaling.json`` and ``docs/img/scaling.png``; docs/scaling.md reads them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import PROJECT_ROOT
from bot.supervisor import rss_mib
from tests.stack import RunningStack, drop_cluster_databases, start_cluster, start_stack

RESULTS = PROJECT_ROOT / "bench" / "results" / "scaling.json"
PLOT = PROJECT_ROOT / "docs" / "img" / "scaling.png"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"
#: What customers write first, in rough proportion.
MIX = [
    "hi",
    "hello there",
    "how much is the velo router?",
    "is the mesh trio in stock in berlin?",
    "what's your return policy?",
    "how long does delivery take?",
    "my wifi keeps dropping",
    "my internet is really slow",
    "what is the warranty on the powerlink kit?",
    "do you ship to austria?",
]
TICKS = os.sysconf("SC_CLK_TCK")


def _tier(cmdline: list[str]) -> str | None:
    joined = " ".join(cmdline)
    if "rasa run" in joined:
        return "rasa"
    if "actions.server" in joined:
        return "actions"
    if "bot gateway" in joined:
        return "gateway"
    if cmdline and cmdline[0].endswith("haproxy"):
        return "haproxy"
    return None


def stack_processes(stack: RunningStack) -> dict[int, str]:
    """The stack's children (pid -> tier), found by the var dir in their environment."""
    found: dict[int, str] = {}
    marker = f"BOT_VAR_DIR={stack.var_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = [part.decode() for part in (entry / "cmdline").read_bytes().split(b"\0") if part]
        except OSError:
            continue
        tier = _tier(cmdline)
        if tier is not None:
            found[int(entry.name)] = tier
    return found


#: The machine's shared services, by process name (their CPU counts in a cluster's cost).
SERVICES = {"postgres": "postgresql", "redis-server": "redis", "beam.smp": "rabbitmq"}


def _services() -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in SERVICES:
            found[int(entry.name)] = SERVICES[name]
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def _load(url: str, token: str, messages: int, concurrency: int, seed: int) -> tuple[list[float], int]:
    rng = random.Random(seed)
    texts = [rng.choice(MIX) for _ in range(messages)]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for text in texts:
        queue.put_nowait(text)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                text = queue.get_nowait()
                body = {"conversation_id": f"bench-{uuid.uuid4().hex[:12]}", "text": text}
                started = time.perf_counter()
                try:
                    async with session.post(
                        f"{url}/api/v1/messages", json=body, headers={"Authorization": f"Bearer {token}"}
                    ) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                            continue
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _measure(stack: RunningStack, label: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{label}] warming up ({args.warmup} messages)…", flush=True)
    asyncio.run(_load(stack.gateway_url, stack.api_token, args.warmup, args.concurrency, seed=1))
    processes = stack_processes(stack)
    services = _services()
    before = {pid: _cpu_seconds(pid) for pid in [*processes, *services]}
    print(f"[{label}] {args.messages} messages, {args.concurrency} at a time…", flush=True)
    started = time.perf_counter()
    latencies, errors = asyncio.run(_load(stack.gateway_url, stack.api_token, args.messages, args.concurrency, 2))
    wall = time.perf_counter() - started
    cpu: dict[str, float] = defaultdict(float)
    memory: dict[str, list[float]] = defaultdict(list)
    for pid, tier in processes.items():
        try:
            cpu[tier] += _cpu_seconds(pid) - before[pid]
            memory[tier].append(round(rss_mib(pid) or 0.0, 1))
        except OSError:
            pass
    service_cpu: dict[str, float] = defaultdict(float)
    for pid, service in services.items():
        try:
            service_cpu[service] += _cpu_seconds(pid) - before[pid]
        except OSError:
            pass  # a PostgreSQL backend that ended: its CPU is not counted
    done = len(latencies)
    ordered = sorted(latencies)
    bot_ms = sum(cpu.values()) * 1000 / max(done, 1)
    service_ms = sum(service_cpu.values()) * 1000 / max(done, 1)
    result = {
        "messages": done,
        "errors": errors,
        "seconds": round(wall, 2),
        "msg_per_s": round(done / wall, 2),
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
        "cpu_ms_per_message": {tier: round(seconds * 1000 / max(done, 1), 1) for tier, seconds in sorted(cpu.items())},
        "services_cpu_ms_per_message": {k: round(v * 1000 / max(done, 1), 1) for k, v in sorted(service_cpu.items())},
        "cpu_ms_per_message_total": round(bot_ms + service_ms, 1),
        "msg_per_s_per_core": round(1000 / (bot_ms + service_ms), 2) if done else None,
        "cores_busy": round((sum(cpu.values()) + sum(service_cpu.values())) / wall, 2),
        "rss_mib": {tier: values for tier, values in sorted(memory.items())},
    }
    print(f"[{label}] {json.dumps(result)}", flush=True)
    return result


async def _open_widgets(url: str, count: int) -> list[Any]:
    """``count`` idle widget tabs: connected, said hello, got their welcome."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))  # a tab holds its connection
    sockets: list[Any] = []
    try:
        for n in range(count):
            ws = await session.ws_connect(f"{url.replace('http', 'ws', 1)}/ws")
            await ws.send_json({"type": "hello", "conversation_id": None, "after": None})
            try:
                await ws.receive_json(timeout=10)
            except asyncio.TimeoutError:
                raise RuntimeError(f"tab {n + 1} got no welcome") from None
            sockets.append(ws)
            if (n + 1) % 250 == 0:
                print(f"  {n + 1}/{count} widget tabs open", flush=True)
    except BaseException:
        await session.close()
        raise
    return [session, *sockets]


def _websocket_memory(count: int) -> dict[str, Any]:
    """The gateway's resident memory with ``count`` idle widget tabs open, against none."""
    var_dir = Path(tempfile.mkdtemp(prefix="bench-scaling-ws-")) / "var"
    limits = {"BOT_WS_MAX_PER_CLIENT": str(count + 10), "BOT_WS_MAX_CONNECTIONS": str(count + 10)}
    stack = start_stack(var_dir, PROJECT_ROOT / "models", extra_env=limits)
    try:
        [gateway] = [pid for pid, tier in stack_processes(stack).items() if tier == "gateway"]
        before = rss_mib(gateway) or 0.0

        async def hold() -> float:
            opened = await _open_widgets(stack.gateway_url, count)
            await asyncio.sleep(2)
            after = rss_mib(gateway) or 0.0
            for ws in opened[1:]:
                await ws.close()
            await opened[0].close()
            return after

        after = asyncio.run(hold())
    finally:
        stack.stop()
    return {
        "tabs": count,
        "gateway_rss_mib_before": round(before, 1),
        "gateway_rss_mib_after": round(after, 1),
        "kib_per_tab": round((after - before) * 1024 / count, 1),
    }


def _plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results["runs"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    rates = [results["runs"][label]["msg_per_s"] for label in labels]
    left.bar(labels, rates, color="#1d4ed8")
    for i, rate in enumerate(rates):
        left.text(i, rate, f"{rate:.1f}", ha="center", va="bottom")
    left.set_title(f"Messages per second ({results['concurrency']} at a time, 2 cores)")
    tiers = ["gateway", "rasa", "actions", "haproxy", "postgresql", "redis", "rabbitmq"]
    bottom = [0.0] * len(labels)
    colours = {
        "gateway": "#0f766e",
        "rasa": "#b45309",
        "actions": "#7c3aed",
        "haproxy": "#6b7280",
        "postgresql": "#1e3a8a",
        "redis": "#dc2626",
        "rabbitmq": "#f59e0b",
    }
    for tier in tiers:
        run = results["runs"]
        values = [
            {**run[label]["cpu_ms_per_message"], **run[label]["services_cpu_ms_per_message"]}.get(tier, 0.0)
            for label in labels
        ]
        right.bar(labels, values, bottom=bottom, label=tier, color=colours[tier])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    right.set_title("CPU milliseconds per message, by tier")
    right.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the set-ups one after the other; write the results and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--runs", default="single,cluster-1,cluster-2", help="which set-ups, comma-separated")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the results file")
    parser.add_argument(
        "--websockets", type=int, default=0, help="only measure the gateway's memory with this many idle widget tabs"
    )
    args = parser.parse_args(argv)
    if args.plot_only:
        _plot(json.loads(RESULTS.read_text(encoding="utf-8")))
        return 0
    if args.websockets:
        measured = _websocket_memory(args.websockets)
        print(json.dumps(measured), flush=True)
        results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"runs": {}}
        results["websocket_memory"] = measured
        RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        return 0
    results: dict[str, Any] = {"concurrency": args.concurrency, "messages": args.messages, "runs": {}}
    models = PROJECT_ROOT / "models"
    for label in args.runs.split(","):
        var_dir = Path(tempfile.mkdtemp(prefix=f"bench-scaling-{label}-")) / "var"
        name = None
        print(f"[{label}] starting…", flush=True)
        if label == "single":
            stack = start_stack(var_dir, models)
        else:
            replicas = label.rsplit("-", 1)[1]
            stack, name = start_cluster(
                var_dir, models, postgres_admin_url=POSTGRES, redis_url=REDIS, rabbitmq_url=RABBITMQ,
                replicas=int(replicas),
            )  # fmt: skip
        try:
            results["runs"][label] = _measure(stack, label, args)
        finally:
            stack.stop()
            if name is not None:
                drop_cluster_databases(POSTGRES, name)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _plot(results)
    print(f"wrote {RESULTS.relative_to(PROJECT_ROOT)} and {PLOT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
