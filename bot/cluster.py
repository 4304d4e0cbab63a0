"""A local cluster: N gateways, Rasa servers and action servers behind HAProxy (``make run-cluster``).

Every replica is the same program as in ``make run``; what makes them a cluster is what they
share (docs/scaling.md): the bot's database and Rasa's tracker store on PostgreSQL, Rasa's lock
store and the gateways' fan-out on Redis, Rasa's events on RabbitMQ. Debian's HAProxy balances
three fronts: customers and agents reach the gateways on ``BOT_GATEWAY_PORT`` (WebSockets
included), the gateways reach the Rasa servers on ``BOT_RASA_PORT``, and the Rasa servers reach
the action servers on ``BOT_ACTION_PORT``; replica ``i`` of each listens on the front's port
plus ``i``. No stickiness: any replica can serve any conversation's next message.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.dialogue.endpoints import rasa_environment
from bot.settings import Settings
from bot.supervisor import ManagedProcess, child_env, rasa_argv

HAPROXY = "/usr/sbin/haproxy"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"  # RabbitMQ's own default account, loopback only


class ClusterError(RuntimeError):
    """A shared service is missing or unusable; the message says which and what to do."""


@dataclass(frozen=True)
class ClusterPlan:
    """How many replicas, on which services, under which names."""

    replicas: int = 2
    postgres_admin_url: str = DEFAULT_POSTGRES
    redis_url: str = DEFAULT_REDIS
    rabbitmq_url: str = DEFAULT_RABBITMQ
    #: Names of its databases (``<name>`` and ``<name>_tracker``), Redis prefix and events queue.
    name: str = "supportbot"

    def replica_port(self, front: int, index: int) -> int:
        """Replica ``index`` (1-based) of a tier listens on its front's port plus ``index``."""
        return front + index


def prepare_services(plan: ClusterPlan) -> tuple[str, str]:
    """Check Redis and RabbitMQ answer, create the two PostgreSQL databases if missing; their URLs.

    Raises:
        ClusterError: a service does not answer, or a database cannot be created.
    """
    for what, url, port in (("Redis", plan.redis_url, 6379), ("RabbitMQ", plan.rabbitmq_url, 5672)):
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or port)
        try:
            with socket.create_connection(address, timeout=3):
                pass
        except OSError as exc:
            raise ClusterError(f"{what} does not answer at {address[0]}:{address[1]} ({exc.strerror or exc})") from exc
    admin = make_url(plan.postgres_admin_url)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 3})
    names = (plan.name, f"{plan.name}_tracker")
    try:
        with engine.connect() as connection:
            existing = set(connection.execute(text("SELECT datname FROM pg_database")).scalars())
            for database in names:
                if database not in existing:
                    connection.execute(text(f'CREATE DATABASE "{database}"'))
    except SQLAlchemyError as exc:
        error = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ClusterError(f"PostgreSQL at {admin.host}:{admin.port or 5432}: {error}") from exc
    finally:
        engine.dispose()
    bot_url, tracker_url = (admin.set(database=name).render_as_string(hide_password=False) for name in names)
    return bot_url, tracker_url


def cluster_settings(settings: Settings, plan: ClusterPlan, bot_url: str, tracker_url: str) -> Settings:
    """What every replica shares: the databases, the services, and where the fronts are."""
    return settings.with_overrides(
        database_url=bot_url,
        dialogue={
            "tracker_url": tracker_url,
            "rasa_base_url": f"http://127.0.0.1:{settings.dialogue.rasa_port}",
            "action_base_url": f"http://127.0.0.1:{settings.dialogue.action_port}",
        },
        services={
            "redis_url": plan.redis_url,
            "rabbitmq_url": plan.rabbitmq_url,
            "redis_prefix": plan.name.replace("_", ""),
            "events_queue": f"{plan.name}_events",
        },
    )


def haproxy_config(settings: Settings, plan: ClusterPlan) -> str:
    """HAProxy's configuration: three fronts, each balancing its tier's replicas with health checks."""
    tiers = (
        ("gateway", settings.gateway.port, "GET /healthz"),
        ("rasa", settings.dialogue.rasa_port, "GET /"),
        ("actions", settings.dialogue.action_port, "GET /health"),
    )
    lines = [
        "# Written by python -m bot cluster (bot/cluster.py); rewritten at every start.",
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 3s",
        "    timeout client 90s",
        "    timeout server 90s",
        "    timeout tunnel 1h        # WebSockets of the web widget",
        "    option redispatch",
        "    retries 2",
    ]
    for name, front, check in tiers:
        lines += [
            f"frontend {name}",
            f"    bind 127.0.0.1:{front}",
            f"    default_backend {name}_replicas",
            f"backend {name}_replicas",
            "    balance roundrobin",
            f"    option httpchk {check}",
            "    http-check expect status 200",
        ]
        lines += [
            f"    server {name}-{i} 127.0.0.1:{plan.replica_port(front, i)} check inter 1s fall 2 rise 1"
            for i in range(1, plan.replicas + 1)
        ]
    return "\n".join(lines) + "\n"


def cluster_processes(
    settings: Settings, plan: ClusterPlan, model: Path, python: str = sys.executable
) -> list[ManagedProcess]:
    """Every process of the cluster, action servers first and HAProxy last, ready to start."""
    log_dir = settings.paths.var_dir / "logs"
    config = settings.paths.var_dir / "run" / "haproxy.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(haproxy_config(settings, plan), encoding="utf-8")
    processes: list[ManagedProcess] = []
    for i in range(1, plan.replicas + 1):
        port = plan.replica_port(settings.dialogue.action_port, i)
        replica = settings.with_overrides(dialogue={"action_port": port})
        processes.append(
            ManagedProcess(
                name=f"actions-{i}",
                argv=[python, "-m", "actions.server", "--port", str(port)],
                env=child_env(replica),
                ready_url=f"http://127.0.0.1:{port}/health",
                log_path=log_dir / f"actions-{i}.log",
            )
        )
    for i in range(1, plan.replicas + 1):
        port = plan.replica_port(settings.dialogue.rasa_port, i)
        replica = settings.with_overrides(dialogue={"rasa_port": port})
        processes.append(
            ManagedProcess(
                name=f"rasa-{i}",
                argv=rasa_argv(replica, model, python),
                env={**child_env(replica), **rasa_environment(replica.dialogue, replica.services)},
                ready_url=f"http://127.0.0.1:{port}/status?token={settings.dialogue.token}",
                log_path=log_dir / f"rasa-{i}.log",
            )
        )
    for i in range(1, plan.replicas + 1):
        port = plan.replica_port(settings.gateway.port, i)
        replica = settings.with_overrides(gateway={"port": port, "replica_id": f"gateway-{i}"})
        processes.append(
            ManagedProcess(
                name=f"gateway-{i}",
                argv=[python, "-m", "bot", "gateway"],
                env=child_env(replica),
                ready_url=f"http://127.0.0.1:{port}/healthz",
                log_path=log_dir / f"gateway-{i}.log",
            )
        )
    processes.append(
        ManagedProcess(
            name="haproxy",
            argv=[HAPROXY, "-db", "-f", str(config)],
            env=child_env(settings),
            ready_url=f"http://127.0.0.1:{settings.gateway.port}/readyz",
            log_path=log_dir / "haproxy.log",
        )
    )
    return processes
