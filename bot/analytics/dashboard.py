"""The insights dashboard's body: a :class:`~bot.analytics.metrics.Report` as an HTML fragment (pure).

The gateway serves it at ``/console/insights/report`` and the page at ``/console/insights``
puts it in place (docs/analytics.md, "Dashboard"). Every figure is the report's, with the
count and the denominator it came from; every text is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

from bot.analytics.candidates import TopGroup
from bot.analytics.charts import Bar, Series, bar_chart, grouped_bars, line_chart
from bot.analytics.metrics import Csat, Durations, Rate, Report
from bot.analytics.report import seconds_text

#: The lines of the trend chart: key in ``Report.per_day`` and legend.
TREND = (
    ("conversations", "conversations"),
    ("with_request", "with a request"),
    ("contained", "contained"),
    ("handoffs", "handoffs"),
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def _of(rate: Rate) -> str:
    return f"{rate.count} of {rate.of}"


def _count(n: float | int | None, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _card(name: str, label: str, value: str, detail: str) -> str:
    return (
        f'<div class="in-card" data-figure="{_e(name)}"><p class="in-card-label">{_e(label)}</p>'
        f'<p class="in-card-value">{_e(value)}</p><p class="in-card-detail">{_e(detail)}</p></div>'
    )


def _rate_card(name: str, label: str, rate: Rate, of_what: str) -> str:
    return _card(name, label, _percent(rate.rate), f"{_of(rate)} {of_what}")


def _time_card(name: str, label: str, durations: Durations) -> str:
    if durations.n == 0:
        return _card(name, label, "–", "no handoffs with this step yet")
    return _card(
        name, label, seconds_text(durations.p50), f"median; 90% within {seconds_text(durations.p90)} (n={durations.n})"
    )


def _csat_card(name: str, label: str, csat: Csat) -> str:
    if csat.n == 0 or csat.mean is None:
        return _card(name, label, "–", "no ratings yet")
    return _card(name, label, f"{csat.mean:.2f} of 5", f"{_percent(csat.satisfied)} gave 4 or 5 (n={csat.n})")


def _headlines(report: Report) -> str:
    nlu = report.nlu
    fallback = Rate(int(nlu["fallbacks"]), int(nlu["turns"]))
    effort = report.effort
    turns = effort["turns_to_resolution"]
    cards = [
        _rate_card("containment", "Containment", report.containment, "conversations with a request, no person needed"),
        _rate_card(
            "first_contact_resolution",
            "First-contact resolution",
            report.first_contact_resolution,
            "conversations with a request, no repeat contact",
        ),
        _rate_card("handoff_rate", "Handoff rate", report.handoff_rate, "conversations with a request"),
        _rate_card(
            "repeat_contact", "Repeat contact", report.repeat_contact, "verified customers' conversations came back"
        ),
        _rate_card("after_hours", "After hours", report.after_hours, "handoffs outside business hours"),
        _rate_card("fallback_rate", "Not understood", fallback, "customer turns"),
        _csat_card("csat_bot", "CSAT, bot only", report.csat_bot),
        _csat_card("csat_agent", "CSAT, with an agent", report.csat_agent),
        _time_card("time_to_claim", "Time to claim", report.time_to_claim),
        _time_card("time_to_first_reply", "First agent reply", report.time_to_first_reply),
        _time_card("time_to_resolution", "Time to resolution", report.time_to_resolution),
        _card(
            "escalations",
            "Escalations",
            str(report.escalations),
            f"of {sum(report.handoffs_by_reason.values())} handoffs re-notified with priority",
        ),
        _card(
            "effort",
            "Effort",
            "–" if turns is None else f"{turns:g} turns",
            f"per contained conversation; {_count(effort['repeated_questions'], 'repeated question')}, "
            f"{_count(effort['clarifications'], 'clarification')}",
        ),
    ]
    return '<div class="in-cards">' + "".join(cards) + "</div>"


def period(report: Report) -> tuple[dt.date, dt.date]:
    """The first and the last UTC day of the report's period (its ``until`` is exclusive)."""
    first = dt.datetime.fromisoformat(report.since).date()
    last = (dt.datetime.fromisoformat(report.until) - dt.timedelta(microseconds=1)).date()
    return first, max(first, last)


def _days(report: Report) -> list[str]:
    """Every day of the period (days without conversations count 0), or none without data.

    A handoff is counted on the day it was asked for, which may follow the period's last day.
    """
    if not report.per_day:
        return []
    first, last = period(report)
    days = {(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}
    return sorted(days | {d["day"] for d in report.per_day})


def _trend(report: Report) -> str:
    by_day = {d["day"]: d for d in report.per_day}
    days = _days(report)
    series = [Series(label, [by_day.get(day, {}).get(key, 0) for day in days]) for key, label in TREND]
    return line_chart("trend", "Conversations per day", days, series, width=1200, height=280)


def _containment(report: Report) -> str:
    c = report.conversations
    with_request = c["with_request"]
    rates = (
        ("contained", report.containment),
        ("resolved at first contact", report.first_contact_resolution),
        ("handed to a person", report.handoff_rate),
    )
    bars = [Bar("conversations", c["total"]), Bar("with a request", with_request)]
    bars += [Bar(label, rate.count, f"{_of(rate)} ({_percent(rate.rate)})") for label, rate in rates]
    bars += [
        Bar(label, c[key])
        for key, label in (
            ("greeting_only", "greeting only"),
            ("not_understood_only", "never understood"),
            ("no_message", "no message"),
        )
        if key in c
    ]
    return bar_chart("containment", "Containment: conversations by outcome", bars)


def _reasons(report: Report) -> str:
    total = sum(report.handoffs_by_reason.values())
    bars = [
        Bar(reason.replace("_", " "), count, f"{count} of {total}")
        for reason, count in sorted(report.handoffs_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return bar_chart("handoff_reasons", "Handoffs by reason", bars, colour="#d55e00")


def _csat(report: Report) -> str:
    stars = [str(n) for n in range(1, 6)]
    series = [
        Series(f"bot only (n={report.csat_bot.n})", [report.csat_bot.distribution.get(s, 0) for s in stars]),
        Series(f"with an agent (n={report.csat_agent.n})", [report.csat_agent.distribution.get(s, 0) for s in stars]),
    ]
    return grouped_bars("csat", "CSAT scores, 1 to 5", [f"{s} ★" for s in stars], series)


def _guide(name: str, figures: dict[str, Any]) -> str:
    started = int(figures["started"])

    def of_started(count: int) -> str:
        return f"{count} of {started}" if started else str(count)

    bars = [Bar("started", started)]
    bars += [Bar(f"step {s['step']}", s["reached"], of_started(s["reached"])) for s in figures["steps"]]
    bars += [
        Bar(outcome, figures[outcome], of_started(figures[outcome]))
        for outcome in ("resolved", "abandoned", "exhausted", "escalated")
    ]
    return bar_chart(f"guide:{name}", f"Guide {name}: started, steps reached, outcomes", bars, colour="#009e73")


def _guides(report: Report) -> str:
    if not report.guides:
        return bar_chart("guides", "Guide funnels", [])
    return "".join(
        f'<figure class="in-chart"><figcaption>{_e(name)}</figcaption>{_guide(name, figures)}</figure>'
        for name, figures in report.guides.items()
    )


def _help(report: Report) -> tuple[str, str]:
    h = report.help
    rated = int(h["helpful"]) + int(h["not_helpful"])
    overview = bar_chart(
        "help",
        "Help center replies and verdicts",
        [
            Bar("answers", h["answers"]),
            Bar("suggestions", h["suggestions"]),
            Bar("no answer", h["no_answer"]),
            Bar("helpful", h["helpful"], f"{h['helpful']} of {rated} rated"),
            Bar("not helpful", h["not_helpful"], f"{h['not_helpful']} of {rated} rated"),
        ],
        colour="#56b4e9",
    )
    articles = list(h["per_article"].items())
    per_article = grouped_bars(
        "help_articles",
        "Help center answers per article",
        [article for article, _ in articles],
        [
            Series(key.replace("_", " "), [figures[key] for _, figures in articles])
            for key in ("shown", "helpful", "not_helpful")
        ],
    )
    return overview, per_article


def _section(title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="in-note">{_e(note)}</p>' if note else ""
    return f'<section class="in-panel"><h2>{_e(title)}</h2>{note_html}{body}</section>'


def _breakdown(conversations: dict[str, int]) -> str:
    parts = [f"{conversations['with_request']} with a request"]
    for key, label in (
        ("greeting_only", "greeting only"),
        ("not_understood_only", "never understood"),
        ("no_message", "without a message"),
    ):
        if key in conversations:
            parts.append(f"{conversations[key]} {label}")
    return ", ".join(parts)


def _unanswered(groups: Sequence[TopGroup]) -> str:
    if not groups:
        return '<p class="in-empty" data-list="unanswered" data-items="0">No messages went not understood twice.</p>'
    items = "".join(
        f"<li><strong>{group.messages}×</strong> " + " · ".join(f"“{_e(text)}”" for text in group.examples) + "</li>"
        for group in groups
    )
    return f'<ol class="in-unanswered" data-list="unanswered" data-items="{len(groups)}">{items}</ol>'


def render_html(report: Report, unanswered: Sequence[TopGroup] = ()) -> str:
    """The dashboard's body for ``report``: headline figures, the charts, the top messages not understood."""
    first_day, last_day = period(report)
    c = report.conversations
    where = f"channel {report.channel}" if report.channel else "all channels"
    help_overview, help_articles = _help(report)
    return (
        f'<div class="in-report" data-since="{first_day.isoformat()}" data-until="{last_day.isoformat()}" '
        f'data-channel="{_e(report.channel or "")}">'
        f'<p class="in-period">Conversations started {first_day.isoformat()} to {last_day.isoformat()} '
        f"(UTC days), {_e(where)}: <strong>{c['total']}</strong>, {_e(_breakdown(c))}.</p>"
        + _headlines(report)
        + _section("Trends per day", _trend(report))
        + '<div class="in-grid">'
        + _section(
            "Containment",
            _containment(report),
            "Contained: a request the bot settled, with no person and no repeat contact (docs/analytics.md).",
        )
        + _section("Handoff reasons", _reasons(report))
        + _section("Satisfaction (CSAT)", _csat(report), "Ratings after a bot-only resolution and after an agent's.")
        + _section("Help center", help_overview + help_articles, "Replies, the customers' verdicts, and per article.")
        + "</div>"
        + _section(
            "Guide funnels",
            f'<div class="in-grid">{_guides(report)}</div>',
            "Per guide: runs started, how many reached each step, how the runs ended.",
        )
        + _section(
            "Top messages not understood",
            _unanswered(unanswered),
            "Alike messages grouped by their spelling (personal data left out); group them by meaning and "
            "export them as training data with python -m bot nlu-candidates.",
        )
        + "</div>"
    )
