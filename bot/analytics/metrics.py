"""The support figures with honest denominators, computed from one period's records (docs/analytics.md).

Pure: :func:`compute` takes plain rows (conversations, outcome events, handoffs, help answers)
that :mod:`bot.analytics.store` reads from the database, and returns a :class:`Report`.
Every rate says what it counts and out of what, so a figure can be checked by hand.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.analytics import events as ev

#: Intents that are no request of their own: a conversation with only these is "greeting only".
SOCIAL_INTENTS = frozenset(
    {
        "greet",
        "goodbye",
        "thanks",
        "affirm",
        "deny",
        "chitchat",
        "bot_challenge",
        "start_over",
        "restart_cancel",
        "stop",
        "help_feedback",
        "give_feedback",
        "diag_choose",
        "form_value",
    }
)
FALLBACK_INTENT = "nlu_fallback"
REPEAT_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True)
class ConversationRow:
    """A conversation of the period."""

    id: str
    channel: str
    customer_id: str | None
    created_at: dt.datetime
    last_at: dt.datetime


@dataclass(frozen=True)
class HandoffRow:
    """A handoff of the period, with its timestamps (None: did not happen)."""

    conversation_id: str
    reason: str
    created_at: dt.datetime
    claimed_at: dt.datetime | None = None
    first_reply_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    csat: int | None = None
    #: resolved (by the agent), handed_back (to the bot, half-way), silent (the customer went quiet).
    closed_how: str | None = None


@dataclass(frozen=True)
class HelpRow:
    """A help-center reply: ``decision`` answer / suggest / none, the article, the customer's verdict."""

    conversation_id: str
    decision: str
    article: str | None
    helpful: bool | None
    at: dt.datetime


@dataclass(frozen=True)
class Dataset:
    """Everything :func:`compute` reads, for conversations started in [since, until)."""

    conversations: Sequence[ConversationRow]
    events: Sequence[ev.OutcomeEvent]
    handoffs: Sequence[HandoffRow] = ()
    help: Sequence[HelpRow] = ()
    #: Conversations of the same customers up to REPEAT_WINDOW after ``until``, with their topics.
    later: Sequence[tuple[ConversationRow, str | None]] = ()


@dataclass
class Rate:
    """``count`` out of ``of``."""

    count: int
    of: int
    rate: float | None = None

    def __post_init__(self) -> None:
        """Compute the rate (None when there is no denominator)."""
        self.rate = round(self.count / self.of, 4) if self.of else None


@dataclass
class Durations:
    """Seconds: median, 90th percentile, how many."""

    n: int
    p50: float | None
    p90: float | None


@dataclass
class Csat:
    """Scores 1-5: how many, the mean, the share of 4 and 5, the distribution."""

    n: int
    mean: float | None
    satisfied: float | None
    distribution: dict[str, int]


@dataclass
class Report:
    """The figures of one period (and channel); see docs/analytics.md for each definition."""

    since: str
    until: str
    channel: str | None
    conversations: dict[str, int]
    containment: Rate
    first_contact_resolution: Rate
    repeat_contact: Rate
    handoff_rate: Rate
    handoffs_by_reason: dict[str, int]
    time_to_claim: Durations
    time_to_first_reply: Durations
    time_to_resolution: Durations
    escalations: int
    after_hours: Rate
    csat_bot: Csat
    csat_agent: Csat
    effort: dict[str, float | int | None]
    guides: dict[str, dict[str, Any]]
    help: dict[str, Any]
    nlu: dict[str, Any]
    per_day: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def topic_of(intent: str | None) -> str | None:
    """The topic a request is about, for "came back about the same thing": orders, products, a guide..."""
    if intent is None:
        return None
    if intent.startswith(("order_", "refund", "recent_orders")) or intent in ("inform_order_number",):
        return "orders"
    if intent.startswith("ask_product_"):
        return "products"
    if intent.startswith("problem_"):
        return intent.removeprefix("problem_")
    return intent


def _durations(values: Iterable[float]) -> Durations:
    data = sorted(values)
    if not data:
        return Durations(0, None, None)
    p90 = data[min(len(data) - 1, max(0, math.ceil(0.9 * len(data)) - 1))]  # nearest rank
    return Durations(len(data), round(statistics.median(data), 1), round(p90, 1))


def _csat(scores: Sequence[int]) -> Csat:
    distribution = {str(n): sum(1 for s in scores if s == n) for n in range(1, 6)}
    if not scores:
        return Csat(0, None, None, distribution)
    return Csat(
        len(scores),
        round(statistics.fmean(scores), 2),
        round(sum(1 for s in scores if s >= 4) / len(scores), 4),
        distribution,
    )


def _seconds(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


def compute(
    data: Dataset,
    since: dt.datetime,
    until: dt.datetime,
    channel: str | None = None,
    is_open: Callable[[dt.datetime], bool] | None = None,
) -> Report:
    """The figures for conversations started in [since, until) (on ``channel``, or all).

    Args:
        data: The period's rows (:func:`bot.analytics.store.load`).
        since: Start (UTC, naive).
        until: End, exclusive.
        channel: Only this channel, or None for all.
        is_open: Whether the team works at a moment (business hours), for the after-hours share.
    """
    conversations = [
        c for c in data.conversations if since <= c.created_at < until and (channel is None or c.channel == channel)
    ]
    ids = {c.id for c in conversations}
    by_conversation: dict[str, list[ev.OutcomeEvent]] = defaultdict(list)
    for event in sorted(data.events, key=lambda e: e.at or since):
        by_conversation[event.conversation_id].append(event)
    handoffs = [h for h in data.handoffs if h.conversation_id in ids]
    handed = {h.conversation_id for h in handoffs}

    def requests(cid: str) -> list[ev.OutcomeEvent]:
        return [e for e in by_conversation[cid] if e.kind == ev.TURN and e.topic not in SOCIAL_INTENTS]

    def turns(cid: str) -> list[ev.OutcomeEvent]:
        return [e for e in by_conversation[cid] if e.kind == ev.TURN]

    with_request = [c for c in conversations if requests(c.id)]
    greeting_only = [c for c in conversations if turns(c.id) and not requests(c.id)]
    empty = [c for c in conversations if not turns(c.id)]
    # Topics of every conversation of the period, whatever the channel filter: a repeat contact
    # may come on another channel.
    topic = {c.id: topic_of(requests(c.id)[0].topic) for c in data.conversations if requests(c.id)}

    # A repeat contact: the same (verified) customer starts another conversation with a request on
    # the same topic, on any channel, within REPEAT_WINDOW after this one's last message.
    by_customer: dict[str, list[tuple[ConversationRow, str | None]]] = defaultdict(list)
    for other, other_topic in [(c, topic.get(c.id)) for c in data.conversations if c.id in topic] + list(data.later):
        if other.customer_id is not None and other_topic is not None:
            by_customer[other.customer_id].append((other, other_topic))

    def came_back(conversation: ConversationRow) -> bool:
        if conversation.customer_id is None:
            return False
        window_end = conversation.last_at + REPEAT_WINDOW
        return any(
            other.id != conversation.id
            and conversation.last_at < other.created_at <= window_end
            and other_topic == topic.get(conversation.id)
            for other, other_topic in by_customer[conversation.customer_id]
        )

    repeated = {c.id for c in with_request if came_back(c)}
    verified = [c for c in with_request if c.customer_id is not None]
    # Only misunderstood messages: the customer had a request, but leaving is no win for the bot.
    not_understood = {c.id for c in with_request if all(t.topic == FALLBACK_INTENT for t in requests(c.id))}
    contained = [c for c in with_request if c.id not in handed | repeated | not_understood]
    resolved_by_agent = {
        h.conversation_id
        for h in handoffs
        if h.resolved_at is not None and h.closed_how not in ("handed_back", "silent")
    }
    first_contact = [
        c
        for c in with_request
        if c.id not in repeated | not_understood and (c.id not in handed or c.id in resolved_by_agent)
    ]

    claim = [s for h in handoffs if (s := _seconds(h.created_at, h.claimed_at)) is not None]
    reply = [s for h in handoffs if (s := _seconds(h.created_at, h.first_reply_at)) is not None]
    resolution = [s for h in handoffs if (s := _seconds(h.created_at, h.resolved_at)) is not None]
    after = sum(1 for h in handoffs if is_open is not None and not is_open(h.created_at))

    bot_scores = [
        int(e.value)
        for cid in ids
        for e in by_conversation[cid]
        if e.kind == ev.CSAT and e.value is not None and e.attrs.get("handled_by", "bot") == "bot"
    ]
    agent_scores = [h.csat for h in handoffs if h.csat is not None]

    contained_turns = [len([t for t in turns(c.id) if not t.attrs.get("button")]) for c in contained]
    repeated_questions = 0
    for cid in ids:
        topics = [t.topic for t in requests(cid) if t.topic != FALLBACK_INTENT]
        repeated_questions += sum(1 for a, b in itertools.pairwise(topics) if a == b)
    all_turns = [t for cid in ids for t in turns(cid)]
    fallbacks = [t for t in all_turns if t.topic == FALLBACK_INTENT]

    return Report(
        since=since.isoformat(),
        until=until.isoformat(),
        channel=channel,
        conversations={
            "total": len(conversations),
            "with_request": len(with_request),
            "greeting_only": len(greeting_only),
            "no_message": len(empty),
            "not_understood_only": len(not_understood),
            "verified_with_request": len(verified),
        },
        containment=Rate(len(contained), len(with_request)),
        first_contact_resolution=Rate(len(first_contact), len(with_request)),
        repeat_contact=Rate(len(repeated), len(verified)),
        handoff_rate=Rate(len(handed & {c.id for c in with_request}), len(with_request)),
        handoffs_by_reason=dict(sorted(Counter(h.reason for h in handoffs).items())),
        time_to_claim=_durations(claim),
        time_to_first_reply=_durations(reply),
        time_to_resolution=_durations(resolution),
        escalations=sum(1 for h in handoffs if h.escalated_at is not None),
        after_hours=Rate(after, len(handoffs) if is_open is not None else 0),
        csat_bot=_csat(bot_scores),
        csat_agent=_csat(agent_scores),
        effort={
            "turns_to_resolution": round(statistics.fmean(contained_turns), 2) if contained_turns else None,
            "repeated_questions": repeated_questions,
            "clarifications": len(fallbacks),
        },
        guides=_guides(by_conversation, ids, handed),
        help=_help([h for h in data.help if h.conversation_id in ids]),
        nlu={
            "turns": len(all_turns),
            "fallbacks": len(fallbacks),
            "fallback_rate": round(len(fallbacks) / len(all_turns), 4) if all_turns else None,
        },
        per_day=_per_day(conversations, with_request, contained, handoffs),
    )


def _guides(
    by_conversation: dict[str, list[ev.OutcomeEvent]], ids: set[str], handed: set[str]
) -> dict[str, dict[str, Any]]:
    """Per guide: started, how many reached each step, and how the runs ended."""
    funnels: dict[str, dict[str, Any]] = {}
    for cid in sorted(ids):
        runs: dict[str, set[str]] = defaultdict(set)
        for event in by_conversation[cid]:
            if not event.kind.startswith("guide_") or event.topic is None:
                continue
            guide = funnels.setdefault(
                event.topic,
                {"started": 0, "steps": {}, "resolved": 0, "abandoned": 0, "exhausted": 0, "escalated": 0},
            )
            if event.kind == ev.GUIDE_STARTED:
                guide["started"] += 1
            elif event.kind == ev.GUIDE_STEP:
                step = str(event.attrs.get("step"))
                if step not in runs[event.topic]:
                    runs[event.topic].add(step)
                    guide["steps"][step] = guide["steps"].get(step, 0) + 1
            else:
                outcome = event.kind.removeprefix("guide_")
                guide[outcome] += 1
                if outcome == "exhausted" and cid in handed:
                    guide["escalated"] += 1
    for guide in funnels.values():
        guide["steps"] = [{"step": s, "reached": n} for s, n in sorted(guide["steps"].items(), key=lambda kv: -kv[1])]
    return dict(sorted(funnels.items()))


def _help(rows: Sequence[HelpRow]) -> dict[str, Any]:
    per_article: dict[str, dict[str, int]] = defaultdict(lambda: {"shown": 0, "helpful": 0, "not_helpful": 0})
    for row in rows:
        if row.decision == "answer" and row.article:
            article = per_article[row.article]
            article["shown"] += 1
            article["helpful"] += int(row.helpful is True)
            article["not_helpful"] += int(row.helpful is False)
    return {
        "answers": sum(1 for r in rows if r.decision == "answer"),
        "suggestions": sum(1 for r in rows if r.decision == "suggest"),
        "no_answer": sum(1 for r in rows if r.decision == "none"),
        "helpful": sum(1 for r in rows if r.helpful is True),
        "not_helpful": sum(1 for r in rows if r.helpful is False),
        "per_article": dict(sorted(per_article.items())),
    }


def _per_day(
    conversations: Sequence[ConversationRow],
    with_request: Sequence[ConversationRow],
    contained: Sequence[ConversationRow],
    handoffs: Sequence[HandoffRow],
) -> list[dict[str, Any]]:
    days: dict[str, dict[str, int]] = defaultdict(
        lambda: {"conversations": 0, "with_request": 0, "contained": 0, "handoffs": 0}
    )
    for conversation in conversations:
        days[conversation.created_at.date().isoformat()]["conversations"] += 1
    for conversation in with_request:
        days[conversation.created_at.date().isoformat()]["with_request"] += 1
    for conversation in contained:
        days[conversation.created_at.date().isoformat()]["contained"] += 1
    for handoff in handoffs:
        days[handoff.created_at.date().isoformat()]["handoffs"] += 1
    return [{"day": day, **figures} for day, figures in sorted(days.items())]
