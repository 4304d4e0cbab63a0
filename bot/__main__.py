"""Command line: ``python -m bot run|gateway|migrate|seed|nlp|train|validate|records-api|customers|agents|telegram``."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.supervisor import Supervisor


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _migrate(settings: Settings) -> None:
    from bot.db.migrate import upgrade

    upgrade(settings.database_url)


def _seed(settings: Settings) -> str:
    from bot.db.engine import create_db_engine
    from bot.db.seed import load_demo_data, seed_database

    data = load_demo_data(settings.paths.data_dir)
    engine = create_db_engine(settings.database_url)
    try:
        report = seed_database(engine, data)
    finally:
        engine.dispose()
    return str(report)


def _demo_agent_token(settings: Settings) -> tuple[str, str] | None:
    """Development only: the first active agent's API token, kept in ``var/dev-secrets.json`` across restarts.

    The stored token is registered again if the database is new, and replaced when it was
    revoked. Returns the agent's description and the token; None when no agent is active.
    """
    from bot.db.engine import create_db_engine
    from bot.handoff.agents import AgentCredentials
    from bot.settings.env import dev_tokens

    engine = create_db_engine(settings.database_url)
    try:
        credentials = AgentCredentials(engine)
        agent = credentials.first_active_agent()
        if agent is None:
            return None
        name = f"agent_token:{agent.id}"
        token = dev_tokens(settings.paths.var_dir, [name], nbytes=32)[name]
        if not credentials.register(agent.id, token):
            token = dev_tokens(settings.paths.var_dir, [name], nbytes=32, renew=True)[name]
            credentials.register(agent.id, token)
    finally:
        engine.dispose()
    return f"{agent.name}, {agent.id}", token


def _ensure_nlp(settings: Settings, *, force: bool = False) -> str:
    from bot.nlp import DEFAULT_DIR, ensure_pipeline

    path, rebuilt = ensure_pipeline(settings.paths.data_dir, settings.paths.project_root / DEFAULT_DIR, force=force)
    return f"{path} {'rebuilt' if rebuilt else 'up to date'}"


def _ensure_help(settings: Settings) -> str:
    """Fine-tune the help center's encoder if the articles changed since the last time (kept under models/help).

    Product references are ``bot validate``'s to check (``run`` validates first); training needs only the text.
    """
    from bot.help import load_help_center
    from bot.nlp.help_model import ensure_help_model

    articles = load_help_center(settings.paths.data_dir / "help")
    path, built = ensure_help_model(articles, settings.paths.models_dir / "help")
    sections = sum(len(article.sections) for article in articles)
    return f"{len(articles)} articles, {sections} sections, {path.name} {'trained' if built else 'up to date'}"


def _prepare(settings: Settings, args: argparse.Namespace) -> Path | None:
    """Validate, migrate, seed, build the NLP and help models, train if needed; the model (None: failed)."""
    from bot.training import ensure_model, model_path

    if cmd_validate(settings, args) != 0:
        return None
    _migrate(settings)
    print("  database migrated", flush=True)
    if not settings.is_production and not args.no_seed:
        print(f"  demo data seeded: {_seed(settings)}", flush=True)
    if os.environ.get("BOT_AGENT_TOKEN"):
        print(
            "note: BOT_AGENT_TOKEN is no longer used; each agent signs in with their own token "
            "(python -m bot agents token AGENT_ID)",
            file=sys.stderr,
            flush=True,
        )
    print(f"  spaCy catalog pipeline: {_ensure_nlp(settings)}", flush=True)
    print("  help center: checking its search model (a minute or two to train when articles changed)…", flush=True)
    print(f"  help center: {_ensure_help(settings)}", flush=True)
    if args.no_train:
        model = model_path(settings.paths.project_root, settings.paths.models_dir)
        if not model.exists():
            print(f"error: no model at {model}; run `python -m bot train`", file=sys.stderr)
            return None
        return model
    print("  model: checking (trains only when data or config changed)…", flush=True)
    result = ensure_model(settings.paths.project_root, settings.paths.models_dir)
    verb = f"trained in {result.seconds:.0f} s" if result.trained else "up to date"
    print(f"  model {result.path.name} {verb}", flush=True)
    return result.path


def _ports_busy(ports: list[int]) -> bool:
    busy = [port for port in ports if not _port_free(port)]
    if busy:
        print(
            f"error: port(s) {', '.join(map(str, busy))} already in use; stop what uses them or set "
            "BOT_GATEWAY_PORT / BOT_RASA_PORT / BOT_ACTION_PORT",
            file=sys.stderr,
        )
    return bool(busy)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, seed, train if needed, start all three processes, wait for Ctrl-C."""
    from bot.supervisor import Supervisor

    print("Support bot: preparing…", flush=True)
    model = _prepare(settings, args)
    if model is None:
        return 2
    if _ports_busy([settings.gateway.port, settings.dialogue.rasa_port, settings.dialogue.action_port]):
        return 2
    print("Starting the Rasa server, the action server and the gateway…", flush=True)
    return _supervise(settings, Supervisor(settings, model), args)


def cmd_cluster(settings: Settings, args: argparse.Namespace) -> int:
    """Two (or --replicas) of each process behind HAProxy, on PostgreSQL, Redis and RabbitMQ."""
    from bot.cluster import HAPROXY, ClusterError, ClusterPlan, cluster_processes, cluster_settings, prepare_services
    from bot.supervisor import Supervisor

    plan = ClusterPlan(
        replicas=args.replicas,
        postgres_admin_url=args.postgres,
        redis_url=args.redis,
        rabbitmq_url=args.rabbitmq,
        name=args.name,
    )
    if not 1 <= plan.replicas <= 9 or not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", plan.name):
        print("error: --replicas must be 1 to 9, --name lower-case letters, digits and _", file=sys.stderr)
        return 2
    if not Path(HAPROXY).exists():
        print(f"error: {HAPROXY} not found; `make run-cluster` installs Debian's haproxy", file=sys.stderr)
        return 2
    print(f"Support bot cluster ({plan.replicas} of each process): preparing…", flush=True)
    try:
        bot_url, tracker_url = prepare_services(plan)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"  PostgreSQL databases {plan.name} and {plan.name}_tracker, Redis and RabbitMQ answer", flush=True)
    settings = cluster_settings(settings, plan, bot_url, tracker_url)
    model = _prepare(settings, args)
    if model is None:
        return 2
    fronts = [settings.gateway.port, settings.dialogue.rasa_port, settings.dialogue.action_port]
    if _ports_busy(fronts + [plan.replica_port(front, i) for front in fronts for i in range(1, plan.replicas + 1)]):
        return 2
    processes = cluster_processes(settings, plan, model)
    print(f"Starting {len(processes)} processes: {', '.join(p.name for p in processes)}…", flush=True)
    return _supervise(settings, Supervisor(settings, model, processes=processes), args, restart=True)


def _supervise(settings: Settings, supervisor: Supervisor, args: argparse.Namespace, *, restart: bool = False) -> int:
    """Start the supervisor's processes, print where everything is once ready, wait for Ctrl-C."""
    demo_agent = None if settings.is_production else _demo_agent_token(settings)

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        supervisor.request_stop()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    supervisor.start()
    try:
        if not supervisor.wait_ready(args.ready_timeout):
            dead = supervisor.dead()
            if dead:
                print(f"error: {supervisor.describe_failure(dead[0])}", file=sys.stderr)
                return 1
            print("error: not ready in time, or stopped before ready; see the logs in var/logs/", file=sys.stderr)
            return 1
        memory = ", ".join(f"{m.name} {m.rss_mb() or 0:.0f} MiB" for m in supervisor.processes)
        print(f"\nReady. Resident memory: {memory}", flush=True)
        print(f"  Web chat:        {settings.gateway.url}/", flush=True)
        print(f"  Direct API:      POST {settings.gateway.url}/api/v1/messages", flush=True)
        print(f"  API token:       {settings.gateway.api_token}", flush=True)
        print(f"  Agent console:   {settings.gateway.url}/console", flush=True)
        if demo_agent is not None:
            print(f"  Agent token:     {demo_agent[1]} ({demo_agent[0]})", flush=True)
        print(f"  Logs:            {settings.paths.var_dir / 'logs'}", flush=True)
        if settings.smtp.uses_maildir:
            print(f"  Linking codes:   {settings.paths.var_dir / 'mail'} (development mail folder)", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        dead_process = supervisor.run_until_stopped(restart=restart, progress=lambda line: print(line, flush=True))
        if dead_process is not None:
            print(f"error: {supervisor.describe_failure(dead_process)}", file=sys.stderr)
            return 1
        return 0
    finally:
        print("Stopping…", flush=True)
        supervisor.stop()
        print("Stopped.", flush=True)


def cmd_gateway(settings: Settings, _args: argparse.Namespace) -> int:
    """Run only the gateway (the supervisor starts it this way)."""
    from aiohttp import web

    from bot.core.logs import configure_logging
    from bot.gateway.app import create_app

    configure_logging(settings.log_level)
    web.run_app(
        create_app(settings), host=settings.gateway.host, port=settings.gateway.port, print=None, shutdown_timeout=10
    )
    return 0


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    """Upgrade the database schema to the newest migration."""
    _migrate(settings)
    print("database migrated")
    return 0


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    """Print the support figures of a period (docs/analytics.md), as text or JSON."""
    import datetime as dt
    import json

    from bot.analytics import report as analytics_report
    from bot.db.engine import create_db_engine
    from bot.db.models import utcnow
    from bot.handoff.hours import load_hours

    _migrate(settings)
    try:
        until = utcnow() if args.until is None else dt.datetime.fromisoformat(args.until)
    except ValueError:
        raise ValueError(
            f"--until must be an ISO date-time in UTC, e.g. 2026-12-05T18:00 (not {args.until!r})"
        ) from None
    since = until - analytics_report.parse_span(args.since)
    hours = load_hours(settings.paths.data_dir / "business_hours.yml")
    engine = create_db_engine(settings.database_url)
    try:
        built = analytics_report.build(
            engine, settings.dialogue.tracker_url, since, until, args.channel or None, hours.is_open
        )
    finally:
        engine.dispose()
    print(json.dumps(built.as_dict(), indent=2) if args.json else analytics_report.render(built))
    return 0


def cmd_nlu_candidates(settings: Settings, args: argparse.Namespace) -> int:
    """Print the messages the bot did not understand in a period, grouped by meaning, as Rasa NLU YAML."""
    import datetime as dt
    from collections.abc import Sequence

    import numpy as np

    from bot.analytics.candidates import find_candidates, render_nlu_yaml
    from bot.analytics.missed import fallback_threshold, read_missed
    from bot.analytics.report import parse_span
    from bot.db.models import utcnow

    if args.min_group < 1 or args.max_groups < 1 or args.max_examples < 1 or not 0.0 < args.similarity <= 1.0:
        raise ValueError("--min-group, --max-groups and --max-examples must be 1 or more, --similarity in (0, 1]")
    until = utcnow() if args.until is None else dt.datetime.fromisoformat(args.until)
    since = until - parse_span(args.since)
    threshold = fallback_threshold(settings.paths.project_root / "config.yml")
    missed = read_missed(settings.dialogue.tracker_url, since, until, threshold)

    def encode(texts: Sequence[str]) -> np.ndarray:
        from bot.nlp.minilm import get_encoder  # loaded only when there is something to group (seconds)

        return get_encoder().encode(texts)

    found = find_candidates(
        (m.text for m in missed),
        encode,
        similarity=args.similarity,
        min_group=args.min_group,
        max_groups=args.max_groups,
    )
    summary = found.summary(args.similarity)
    header = [
        f"Customer messages the bot did not understand, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC "
        f"(nlu_fallback or confidence below {threshold:g}), grouped by meaning (docs/analytics.md).",
        f"{summary}.",
        "Rename a candidate_<n> to a new intent, or move its examples into an intent of data/nlu/; drop the rest.",
    ]
    sys.stdout.write(render_nlu_yaml(found.groups, max_examples=args.max_examples, header=header))
    print(f"nlu-candidates: {summary}", file=sys.stderr)
    return 0


def cmd_seed(settings: Settings, _args: argparse.Namespace) -> int:
    """Load the demo company's data files into the database (idempotent)."""
    _migrate(settings)
    print(f"seeded: {_seed(settings)}")
    return 0


def cmd_nlp(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild the spaCy catalog pipeline if the product catalog changed."""
    print(_ensure_nlp(settings, force=args.force))
    return 0


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild the spaCy catalog pipeline if needed, then train the Rasa model if its data or config changed."""
    from bot.training import ensure_model

    print(f"spaCy catalog pipeline: {_ensure_nlp(settings)}")
    print(f"help center: {_ensure_help(settings)}")
    result = ensure_model(settings.paths.project_root, settings.paths.models_dir, force=args.force)
    print(f"{result.path} {f'trained in {result.seconds:.1f} s' if result.trained else 'up to date'}")
    return 0


def cmd_validate(settings: Settings, _args: argparse.Namespace) -> int:
    """Check the business data files (catalog, records, texts) without touching the database."""
    from bot.account.contact import load_contact_texts
    from bot.catalog.texts import load_catalog_texts
    from bot.channels.texts import load_channel_texts
    from bot.db.seed import load_demo_data
    from bot.diagnostics import validate_guides
    from bot.handoff.config import load_handoff_config
    from bot.handoff.hours import load_hours
    from bot.help import SearchSettings, validate_help_center
    from bot.help.texts import load_help_texts
    from bot.identity.texts import load_link_texts
    from bot.notifications.texts import load_notification_texts
    from bot.records.policy import load_policy
    from bot.texts import load_texts

    load_texts(settings.paths.data_dir / "texts.yml")
    load_hours(settings.paths.data_dir / "business_hours.yml")
    load_catalog_texts(settings.paths.data_dir / "texts.yml")
    load_link_texts(settings.paths.data_dir / "texts.yml")
    load_channel_texts(settings.paths.data_dir / "texts.yml")
    load_help_texts(settings.paths.data_dir / "texts.yml")
    load_contact_texts(settings.paths.data_dir / "texts.yml")
    load_notification_texts(settings.paths.data_dir / "texts.yml")
    load_policy(settings.paths.data_dir)
    demo = load_demo_data(settings.paths.data_dir)
    load_handoff_config(settings.paths.data_dir / "handoff.yml")
    routing_problems = _routing_problems(settings, demo)
    help_dir = settings.paths.data_dir / "help"
    _, help_problems = validate_help_center(help_dir, {product.sku for product in demo.products})
    try:
        SearchSettings.load(help_dir / "search.yml")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    problems = [
        str(p) for p in (*help_problems, *validate_guides(settings.paths.data_dir / "diagnostics"), *routing_problems)
    ]
    if not problems:
        from bot.diagnostics import load_guides
        from bot.diagnostics.wiring import check_wiring

        guides = load_guides(settings.paths.data_dir / "diagnostics").values()
        root = settings.paths.project_root
        problems = [str(p) for p in check_wiring(guides, root / "domain.yml", root / "data" / "rules.yml")]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("data files OK")
    return 0


def _routing_problems(settings: Settings, demo: Any) -> list[str]:
    """``routing.yml`` against agents.yml, domain.yml and the guides; ``canned_replies.yml`` parsed."""
    import yaml

    from bot.diagnostics.loader import load_guides
    from bot.handoff.canned import load_canned_replies
    from bot.handoff.requests import REASONS
    from bot.handoff.routing import check_against, load_routing

    data = settings.paths.data_dir
    rules = load_routing(data / "routing.yml")
    load_canned_replies(data / "canned_replies.yml")
    domain = yaml.safe_load((settings.paths.project_root / "domain.yml").read_text(encoding="utf-8")) or {}
    intents = [next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or []]
    problems = check_against(
        rules,
        agent_skills={skill for agent in demo.agents if agent.active for skill in agent.skills},
        intents=[*intents, "nlu_fallback"],
        guides=_guide_ids(load_guides, data / "diagnostics"),
        reasons=REASONS,
    )
    return [f"{data / 'routing.yml'}: {problem}" for problem in problems]


def _guide_ids(load: Any, folder: Path) -> list[str] | None:
    """The guides' ids, or ``None`` when a guide file is broken (validate_guides reports it with its line)."""
    try:
        return list(load(folder).keys())
    except ValueError:
        return None


def cmd_records_api(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the reference records REST API (docs/records-api.md) from the project database."""
    from aiohttp import web

    from bot.core.logs import configure_logging
    from bot.db.engine import create_db_engine
    from bot.records.reference_api import create_records_app

    if not settings.records.token:
        raise SettingsError("BOT_RECORDS_TOKEN must be set to run the records API")
    configure_logging(settings.log_level)
    engine = create_db_engine(settings.database_url)
    try:
        # No access log: request paths carry order numbers, serials and email addresses.
        app = create_records_app(engine, settings.records.token)
        web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, shutdown_timeout=10)
    finally:
        engine.dispose()
    return 0


def _deletion_requests(settings: Settings) -> int:
    """Print the open account deletion requests, oldest first (complete each with ``customers erase``)."""
    from sqlalchemy import select

    from bot.db.engine import create_db_engine
    from bot.db.models import ServiceRequest

    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(ServiceRequest.reference, ServiceRequest.customer_id, ServiceRequest.created_at)
                .where(ServiceRequest.kind == "account_deletion", ServiceRequest.outcome == "pending")
                .order_by(ServiceRequest.created_at)
            ).all()
    finally:
        engine.dispose()
    if not rows:
        print("no open account deletion requests")
        return 0
    print("open account deletion requests (complete each with: python -m bot customers erase <customer> --yes):")
    for reference, customer_id, created_at in rows:
        print(f"  {reference}  customer {customer_id}  asked {created_at:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_customers(settings: Settings, args: argparse.Namespace) -> int:
    """Privacy requests: ``customers export ID`` (JSON to stdout) and ``customers erase ID --yes``."""
    import asyncio
    import json

    from bot.agentdesk.erasure import SlackDeskCopies
    from bot.channels.inbox import ErasureBlocked, ErasureLock
    from bot.db.engine import create_db_engine
    from bot.identity.privacy import (
        CopiesNotErased,
        CustomerCopies,
        MailFolderCopies,
        TrackerStoreUnavailable,
        UnknownCustomer,
        erase_customer,
        export_customer,
    )
    from bot.slack.app import web_client

    if args.action == "requests":
        return _deletion_requests(settings)
    if args.action == "erase" and not args.yes:
        print(
            f"error: erasing deletes customer {args.customer_id}'s conversations, messages, handoffs, channel "
            "identities, link codes, dialogue tracker events, the messages the Slack agent desk posted about them "
            "and the development mails sent to them, for good (orders, devices, subscriptions, invoices and the "
            "record-access audit are kept); run again with --yes to do it",
            file=sys.stderr,
        )
        return 2
    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    tracker_url = settings.dialogue.tracker_url
    try:
        if args.action == "export":
            export = export_customer(engine, args.customer_id, tracker_url)
            print(json.dumps(export, indent=2, ensure_ascii=False, default=str))
            return 0
        slack = web_client(settings.slack) if settings.slack.bot_token else None
        mails = MailFolderCopies(settings.paths.var_dir / "mail")
        copies: list[CustomerCopies] = [SlackDeskCopies(slack, engine), mails]  # Slack first: it may refuse
        lock = ErasureLock(engine)  # no turn runs in the customer's conversations meanwhile
        counts = asyncio.run(erase_customer(engine, args.customer_id, tracker_url, copies=copies, lock=lock))
        print(f"erased customer {args.customer_id}'s bot data:")
        for kind, count in sorted(counts.items()):
            print(f"  {kind}: {count}")
        if counts.get("slack_threads"):
            print(
                "note: agents' own replies in those Slack threads were not deleted (a bot token can delete only "
                "the bot's messages); if they hold the customer's data, delete them in Slack"
            )
    except UnknownCustomer:
        print(f"error: no customer with id {args.customer_id!r}", file=sys.stderr)
        return 1
    except TrackerStoreUnavailable as exc:
        print(f"error: {exc}{'; nothing was exported' if args.action == 'export' else ''}", file=sys.stderr)
        return 1
    except ErasureBlocked as exc:
        print(f"error: {exc}; nothing was erased", file=sys.stderr)
        return 1
    except CopiesNotErased as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_agents(settings: Settings, args: argparse.Namespace) -> int:
    """``agents token ID`` (a new API token, printed once), ``agents revoke ID``, ``agents list``."""
    from bot.db.engine import create_db_engine
    from bot.handoff.agents import AgentCredentials, InactiveAgent, UnknownAgent

    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    try:
        credentials = AgentCredentials(engine)
        if args.action == "list":
            for agent in credentials.roster():
                used = f"{agent.last_used_at:%Y-%m-%d %H:%M} UTC" if agent.last_used_at else "never"
                state = "active" if agent.active else "inactive"
                print(f"{agent.id}\t{agent.name}\t{state}\ttokens: {agent.tokens}\tlast used: {used}")
        elif args.action == "token":
            token = credentials.issue(args.agent_id)
            print(token)  # alone on stdout, so that a script can take it
            print(
                f"new API token of agent {args.agent_id}, shown only now: sign in to the console at "
                f"{settings.gateway.url}/console with it, or send it as 'Authorization: Bearer <token>'; "
                f"revoke with: python -m bot agents revoke {args.agent_id}",
                file=sys.stderr,
            )
        else:
            print(f"revoked {credentials.revoke(args.agent_id)} token(s) of agent {args.agent_id}")
    except UnknownAgent:
        print(f"error: no agent with id {args.agent_id!r} (agents come from data/agents.yml)", file=sys.stderr)
        return 1
    except InactiveAgent:
        print(f"error: agent {args.agent_id!r} is not active; no token issued", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_orders(settings: Settings, args: argparse.Namespace) -> int:
    """``orders status NUMBER STATUS``: report an order's change as the company's system would (docs/notifications.md).

    The customer's update is stored with its outbox row here; the running gateway sends it.
    """
    import asyncio

    from bot.conversations.store import ConversationStore
    from bot.db.engine import create_db_engine
    from bot.notifications.orders import OrderNotifications, Recorded
    from bot.notifications.texts import load_notification_texts
    from bot.records.status import OrderStatusUpdates, StatusChange, StatusRefused

    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    texts = load_notification_texts(settings.paths.data_dir / "texts.yml")
    notifications = OrderNotifications(engine, store=ConversationStore(engine), texts=texts)

    async def report() -> tuple[StatusChange, Recorded]:
        change = await OrderStatusUpdates(engine).apply(
            args.number, args.status, carrier=args.carrier, tracking_number=args.tracking
        )
        return change, await notifications.order_changed(change)

    try:
        change, recorded = asyncio.run(report())
    except StatusRefused as refused:
        if refused.reason == "unknown_order":
            print(f"error: no order {args.number!r}", file=sys.stderr)
        else:
            print(f"error: order {args.number} is {refused.current} and cannot become {args.status}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    done = "changed" if change.changed else "already so"
    due = f" (due {recorded.due_at:%Y-%m-%d %H:%M} UTC)" if recorded.outcome == "waiting" and recorded.due_at else ""
    print(f"order {change.order_number}: {args.status}, {done}; customer update: {recorded.outcome}{due}")
    return 0


def cmd_notifications(settings: Settings, args: argparse.Namespace) -> int:
    """``notifications show CUSTOMER``; ``notifications set CUSTOMER on|off [--quiet HH:MM-HH:MM|none] [--timezone Z]``.

    ``set`` keeps the quiet hours and timezone it is not given.
    """
    import asyncio
    import dataclasses
    import json

    from bot.db.engine import create_db_engine
    from bot.notifications.preferences import (
        PreferenceError,
        PreferenceStore,
        QuietHours,
        UnknownCustomer,
        check_timezone,
        parse_time,
    )

    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    store = PreferenceStore(engine)
    try:
        current = asyncio.run(store.get(args.customer_id))
        if args.action == "set":
            changes: dict[str, Any] = {"order_updates": args.updates == "on"}
            if args.quiet is not None:
                start, _, end = args.quiet.partition("-")
                quiet = None if args.quiet == "none" else QuietHours(parse_time(start, "start"), parse_time(end, "end"))
                changes["quiet_hours"] = quiet
            if args.timezone is not None:
                changes["timezone"] = check_timezone(args.timezone)
            current = asyncio.run(store.put(dataclasses.replace(current, **changes)))
    except UnknownCustomer:
        print(f"error: no customer with id {args.customer_id!r}", file=sys.stderr)
        return 1
    except PreferenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(json.dumps(current.to_json(), indent=2))
    return 0


def cmd_telegram(settings: Settings, args: argparse.Namespace) -> int:
    """``telegram set-webhook [URL] | webhook-info | delete-webhook | deep-link CUSTOMER_ID``."""
    import asyncio

    from telegram.error import TelegramError

    from bot.channels import telegram

    if args.action == "deep-link":
        from bot.db.engine import create_db_engine
        from bot.identity.deeplinks import DeepLinks, UnknownCustomer

        _migrate(settings)
        engine = create_db_engine(settings.database_url)
        try:
            minted = DeepLinks(engine, settings.identity.secret).mint(args.customer_id)
        except UnknownCustomer:
            print(f"error: no customer with id {args.customer_id!r}", file=sys.stderr)
            return 1
        finally:
            engine.dispose()
        print(f"start payload (valid 15 minutes, single use): {minted.token}")
        print(f"link: https://t.me/<your bot's username>?start={minted.token}")
        return 0
    if not settings.telegram.enabled:
        print("error: set BOT_TELEGRAM_BOT_TOKEN first", file=sys.stderr)
        return 2
    try:
        if args.action == "set-webhook":
            url = args.url or settings.telegram.webhook_url or f"{settings.gateway.url}{telegram.WEBHOOK_PATH}"
            if not url.startswith("https://"):
                print(f"error: Telegram only calls https:// webhooks, got {url}", file=sys.stderr)
                return 2
            if not settings.telegram.webhook_secret:
                print("error: set BOT_TELEGRAM_WEBHOOK_SECRET first", file=sys.stderr)
                return 2
            print(asyncio.run(telegram.set_webhook(settings.telegram, url)))
        elif args.action == "webhook-info":
            print(asyncio.run(telegram.webhook_info(settings.telegram)))
        else:
            print(asyncio.run(telegram.delete_webhook(settings.telegram)))
    except TelegramError as exc:
        print(f"error: Telegram answered: {exc.message}", file=sys.stderr)
        return 1
    return 0


def cmd_rasa(settings: Settings, args: argparse.Namespace) -> int:
    """One Rasa server in the foreground (a container, a replica of the local cluster): it never trains."""
    from bot.dialogue.endpoints import rasa_environment
    from bot.supervisor import child_env, rasa_argv
    from bot.training import model_path

    model = model_path(settings.paths.project_root, settings.paths.models_dir)
    if not model.exists():
        print(f"error: no model at {model}; run `python -m bot train` (at image build time)", file=sys.stderr)
        return 2
    argv = rasa_argv(settings, model)
    env = {**child_env(settings), **rasa_environment(settings.dialogue, settings.services)}
    print(f"Rasa server on {settings.dialogue.rasa_host}:{settings.dialogue.rasa_port} with {model.name}", flush=True)
    os.execve(argv[0], argv, env)  # noqa: S606 - our own interpreter; replaces this process, signals reach Rasa


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    """Play made-up customers and agents against the running stack, so a new dashboard has figures."""
    import asyncio
    import math
    import random

    from bot.db.engine import create_db_engine
    from bot.db.models import utcnow
    from bot.diagnostics import load_guides
    from bot.simulation import Simulation, StackUnavailable, load_phrasebook
    from bot.simulation.backdate import backdate

    if settings.is_production:
        print("error: simulate makes up customers, orders and conversations; not in production", file=sys.stderr)
        return 2
    if args.conversations < 1 or args.concurrency < 1 or args.days < 0 or args.backdate_days < 0:
        print(
            "error: --conversations and --concurrency must be at least 1, --days and --backdate-days at least 0",
            file=sys.stderr,
        )
        return 2
    if args.days and args.backdate_days:
        print(
            "error: --days (a real-time pace) and --backdate-days (moved afterwards) exclude each other",
            file=sys.stderr,
        )
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    guides = load_guides(settings.paths.data_dir / "diagnostics")
    phrases = load_phrasebook(settings.paths.data_dir / "simulation" / "customers.yml", frozenset(guides))
    engine = create_db_engine(settings.database_url)
    simulation = Simulation(
        gateway_url=args.url or settings.gateway.url,
        api_token=settings.gateway.api_token,
        identity_secret=settings.identity.secret,
        engine=engine,
        phrases=phrases,
        guides=guides,
        out=lambda line: print(line, flush=True),
    )
    try:
        summary = asyncio.run(
            simulation.run(
                args.conversations,
                seed=seed,
                concurrency=args.concurrency,
                days=args.days,
                backdate_days=args.backdate_days,
            )
        )
        if args.backdate_days:
            print(f"Moving the {len(summary.visits)} visits over the last {args.backdate_days:g} days …", flush=True)
            moved = backdate(
                engine,
                settings.dialogue.tracker_url,
                summary.visits,
                days=args.backdate_days,
                seed=seed,
                now=utcnow(),
            )
            print(
                f"Moved {moved.conversations} conversations ({moved.rows} rows of the bot, "
                f"{moved.tracker_events} tracker events) to starts between {moved.first:%Y-%m-%d %H:%M} and "
                f"{moved.last:%Y-%m-%d %H:%M} UTC."
                if moved.first and moved.last
                else "Nothing to move: no conversation of the run was stored."
            )
    except StackUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"\n{summary.render()}")
    since = f"{math.ceil(args.backdate_days)}d" if args.backdate_days else "1d"
    print(
        f"\nSee the figures: python -m bot report --since {since}, or /console/insights "
        f"({settings.gateway.url}/console/insights). Rerun with --seed {seed} for the same plan."
    )
    return 1 if summary.failed else 0


#: The channels a report can be narrowed to (the same as the dashboard's filter).
REPORT_CHANNELS = ("web", "telegram", "slack", "direct")

COMMANDS = {
    "run": cmd_run,
    "gateway": cmd_gateway,
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "report": cmd_report,
    "nlu-candidates": cmd_nlu_candidates,
    "nlp": cmd_nlp,
    "train": cmd_train,
    "validate": cmd_validate,
    "customers": cmd_customers,
    "records-api": cmd_records_api,
    "agents": cmd_agents,
    "telegram": cmd_telegram,
    "orders": cmd_orders,
    "notifications": cmd_notifications,
    "simulate": cmd_simulate,
    "rasa": cmd_rasa,
    "cluster": cmd_cluster,
}


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Self-service support bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, seed, train if needed and start everything")
    run.add_argument("--no-train", action="store_true", help="fail instead of training when the model is missing")
    run.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    run.add_argument("--ready-timeout", type=float, default=300.0, help="seconds to wait for readiness")
    from bot.cluster import DEFAULT_POSTGRES, DEFAULT_RABBITMQ, DEFAULT_REDIS

    cluster = sub.add_parser(
        "cluster", help="a local cluster: two of each process behind HAProxy on PostgreSQL, Redis and RabbitMQ"
    )
    cluster.add_argument("--replicas", type=int, default=2, help="replicas of each process (default 2)")
    cluster.add_argument("--postgres", default=DEFAULT_POSTGRES, help=f"maintenance database URL ({DEFAULT_POSTGRES})")
    cluster.add_argument("--redis", default=DEFAULT_REDIS, help=f"Redis URL ({DEFAULT_REDIS})")
    cluster.add_argument("--rabbitmq", default=DEFAULT_RABBITMQ, help="RabbitMQ URL (amqp://guest:…@127.0.0.1:5672/)")
    cluster.add_argument("--name", default="supportbot", help="its databases, Redis prefix and queue (supportbot)")
    cluster.add_argument("--no-train", action="store_true", help="fail instead of training when the model is missing")
    cluster.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    cluster.add_argument("--ready-timeout", type=float, default=300.0, help="seconds to wait for readiness")
    sub.add_parser("gateway", help="run only the gateway")
    sub.add_parser("migrate", help="upgrade the database schema")
    sub.add_parser("seed", help="load the demo data files")
    report = sub.add_parser("report", help="support figures of a period: containment, handoffs, CSAT, guides...")
    report.add_argument("--since", default="7d", help="how far back: 7d, 24h, 2w (default 7d)")
    report.add_argument("--until", help="end of the period, ISO date-time in UTC (default now)")
    report.add_argument("--channel", choices=REPORT_CHANNELS, help="only this channel")
    report.add_argument("--json", action="store_true", help="print JSON instead of text")
    candidates = sub.add_parser(
        "nlu-candidates", help="messages the bot did not understand, grouped, as Rasa NLU YAML (to train on)"
    )
    candidates.add_argument("--since", default="30d", help="how far back: 30d, 24h, 2w (default 30d)")
    candidates.add_argument("--until", help="end of the period, ISO date-time in UTC (default now)")
    candidates.add_argument(
        "--similarity", "--threshold", type=float, default=0.6, help="cosine similarity to join a group (default 0.6)"
    )
    candidates.add_argument("--min-group", type=int, default=2, help="leave out groups of fewer messages (default 2)")
    candidates.add_argument("--max-groups", type=int, default=30, help="at most this many groups (default 30)")
    candidates.add_argument("--max-examples", type=int, default=20, help="examples written per group (default 20)")
    nlp = sub.add_parser("nlp", help="rebuild the spaCy catalog pipeline")
    nlp.add_argument("--force", action="store_true", help="rebuild even if the catalog did not change")
    train = sub.add_parser("train", help="train the model if needed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    sub.add_parser("validate", help="check the data files")
    customers = sub.add_parser("customers", help="privacy requests: export or erase a customer's data")
    privacy = customers.add_subparsers(dest="action", required=True)
    export = privacy.add_parser("export", help="print everything held about a customer as JSON")
    export.add_argument("customer_id", help="the customer's id, e.g. C1001")
    erase = privacy.add_parser("erase", help="delete the bot's data about a customer (keeps company records)")
    erase.add_argument("customer_id", help="the customer's id, e.g. C1001")
    erase.add_argument("--yes", action="store_true", help="confirm the erasure")
    privacy.add_parser("requests", help="list the account deletions customers asked for in the chat, still open")
    agents = sub.add_parser("agents", help="agents' own API tokens: issue, revoke, list")
    agent_actions = agents.add_subparsers(dest="action", required=True)
    agent_token = agent_actions.add_parser("token", help="issue a new API token for an agent (printed once)")
    agent_token.add_argument("agent_id", help="the agent's id, e.g. AG-01")
    revoke = agent_actions.add_parser("revoke", help="revoke every token of an agent")
    revoke.add_argument("agent_id", help="the agent's id, e.g. AG-01")
    agent_actions.add_parser("list", help="agents with their number of valid tokens and last use")
    records_api = sub.add_parser("records-api", help="serve the reference records REST API (BOT_RECORDS_TOKEN)")
    records_api.add_argument("--host", default="127.0.0.1", help="address to listen on")
    records_api.add_argument("--port", type=int, default=8090, help="port to listen on")
    telegram = sub.add_parser("telegram", help="Telegram: set or inspect the webhook, mint a deep link")
    telegram_actions = telegram.add_subparsers(dest="action", required=True)
    set_webhook = telegram_actions.add_parser("set-webhook", help="point Telegram at this gateway's webhook")
    set_webhook.add_argument(
        "url", nargs="?", help="https URL of /telegram/webhook (default: BOT_TELEGRAM_WEBHOOK_URL or BOT_PUBLIC_URL)"
    )
    telegram_actions.add_parser("webhook-info", help="show what Telegram knows about the webhook")
    telegram_actions.add_parser("delete-webhook", help="remove the webhook (to use long polling)")
    deep_link = telegram_actions.add_parser("deep-link", help="mint a one-time account-linking /start payload")
    deep_link.add_argument("customer_id", help="the customer's id, e.g. C1001")
    orders = sub.add_parser("orders", help="report an order's status change (the customer's update, if opted in)")
    order_actions = orders.add_subparsers(dest="action", required=True)
    order_status = order_actions.add_parser("status", help="the order shipped, was delivered, or its refund issued")
    order_status.add_argument("number", help="the order number, e.g. 100104")
    order_status.add_argument("status", choices=("shipped", "delivered", "refund_issued"))
    order_status.add_argument("--carrier", help="with shipped: the carrier, e.g. DHL")
    order_status.add_argument("--tracking", help="with shipped: the tracking number")
    notifications = sub.add_parser("notifications", help="a customer's order-update settings: show or set")
    notification_actions = notifications.add_subparsers(dest="action", required=True)
    notifications_show = notification_actions.add_parser("show", help="print the customer's settings")
    notifications_show.add_argument("customer_id", help="the customer's id, e.g. C1001")
    notifications_set = notification_actions.add_parser("set", help="turn order updates on or off")
    notifications_set.add_argument("customer_id", help="the customer's id, e.g. C1001")
    notifications_set.add_argument("updates", choices=("on", "off"))
    notifications_set.add_argument("--quiet", help="quiet hours HH:MM-HH:MM in their timezone, or none")
    notifications_set.add_argument("--timezone", help="the customer's IANA timezone, e.g. Europe/Berlin")
    sub.add_parser("rasa", help="run one Rasa server in the foreground (a container or a cluster replica)")
    simulate = sub.add_parser(
        "simulate", help="demo data: play made-up customers and agents against the running bot (make run)"
    )
    simulate.add_argument("--conversations", type=int, default=300, help="conversations to play (default 300)")
    simulate.add_argument("--url", help="the gateway's URL (default: BOT_PUBLIC_URL or the gateway's port)")
    simulate.add_argument("--seed", type=int, help="the same seed plays the same plan (default: a new one, printed)")
    simulate.add_argument("--concurrency", type=int, default=4, help="conversations at a time (default 4)")
    simulate.add_argument(
        "--days",
        type=float,
        default=0.0,
        help="spread the conversations' starts over this many real days (the API cannot backdate; default 0: now)",
    )
    simulate.add_argument(
        "--backdate-days",
        type=float,
        default=0.0,
        help="play now, then move each visit as a whole to a start over the last N days "
        "(office hours and weekdays busier), e.g. 7 for a week on the dashboard; default 0: left as played",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors in settings or data files end with a clear message, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return COMMANDS[args.command](settings, args)
    except (SettingsError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
