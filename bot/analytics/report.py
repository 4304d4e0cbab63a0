"""The support report of a period: build it from the database, and print it for people.

``python -m bot report --since 7d [--channel web] [--json]`` and the dashboard at
``/console/insights`` both call :func:`build` with the same arguments, so their figures agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from sqlalchemy.engine import Engine

from bot.analytics.metrics import Csat, Durations, Rate, Report, compute
from bot.analytics.store import import_turns, load

_SPAN = re.compile(r"^(\d+)\s*([dhw])$")
_UNITS = {"d": "days", "h": "hours", "w": "weeks"}


def parse_span(text: str) -> dt.timedelta:
    """Read a period such as "7d", "24h" or "2w".

    Raises:
        ValueError: Not a number of days, hours or weeks.
    """
    found = _SPAN.match(text.strip().lower())
    if found is None or int(found.group(1)) <= 0:
        raise ValueError(f"not a period: {text!r} (write e.g. 7d, 24h or 2w)")
    return dt.timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def build(
    engine: Engine,
    tracker_url: str | None,
    since: dt.datetime,
    until: dt.datetime,
    channel: str | None = None,
    is_open: Callable[[dt.datetime], bool] | None = None,
) -> Report:
    """Import the turns Rasa recorded since the last time (if its tracker store is given), then compute."""
    if tracker_url:
        import_turns(engine, tracker_url)
    return compute(load(engine, since, until), since, until, channel, is_open)


def _rate(rate: Rate) -> str:
    if rate.rate is None:
        return f"– (0 of {rate.of})"
    return f"{rate.rate:.1%} ({rate.count} of {rate.of})"


def _time(durations: Durations) -> str:
    if durations.n == 0:
        return "–"
    return f"median {seconds_text(durations.p50)}, 90% within {seconds_text(durations.p90)} (n={durations.n})"


def seconds_text(value: float | None) -> str:
    """A duration for people: "45 s", "3.0 min", "2.5 h" ("–" for none)."""
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _csat(csat: Csat) -> str:
    if csat.n == 0:
        return "no ratings"
    spread = " ".join(f"{star}★:{count}" for star, count in csat.distribution.items())
    return f"{csat.mean:.2f} of 5, {csat.satisfied:.0%} satisfied (n={csat.n}; {spread})"


def render(report: Report) -> str:
    """The report as text for a terminal."""
    c = report.conversations
    lines = [
        f"Support report {report.since[:16]} – {report.until[:16]} UTC"
        + (f", channel {report.channel}" if report.channel else ", all channels"),
        "",
        f"Conversations        {c['total']}: {c['with_request']} with a request, {c['greeting_only']} greeting only, "
        f"{c['no_message']} without a message",
        f"Containment          {_rate(report.containment)}",
        f"First-contact res.   {_rate(report.first_contact_resolution)}",
        f"Repeat contact       {_rate(report.repeat_contact)} (verified customers only)",
        f"Handoff rate         {_rate(report.handoff_rate)}",
    ]
    for reason, count in report.handoffs_by_reason.items():
        lines.append(f"  {reason:20s} {count}")
    lines += [
        f"Time to claim        {_time(report.time_to_claim)}",
        f"First agent reply    {_time(report.time_to_first_reply)}",
        f"Time to resolution   {_time(report.time_to_resolution)}",
        f"Escalations          {report.escalations}",
        f"After hours          {_rate(report.after_hours)} of handoffs",
        f"CSAT, bot only       {_csat(report.csat_bot)}",
        f"CSAT, with an agent  {_csat(report.csat_agent)}",
        f"Effort               {report.effort['turns_to_resolution'] or '–'} customer turns per contained "
        f"conversation, {report.effort['repeated_questions']} repeated questions, "
        f"{report.effort['clarifications']} clarifications",
        f"NLU                  {report.nlu['fallbacks']} of {report.nlu['turns']} turns not understood"
        + (f" ({report.nlu['fallback_rate']:.1%})" if report.nlu["fallback_rate"] is not None else ""),
        f"Help center          {report.help['answers']} answers ({report.help['helpful']} helpful, "
        f"{report.help['not_helpful']} not), {report.help['suggestions']} suggestions, {report.help['no_answer']} none",
    ]
    if report.guides:
        lines += ["", "Guides               started  resolved  abandoned  exhausted  escalated"]
        for guide, figures in report.guides.items():
            lines.append(
                f"  {guide:18s} {figures['started']:8d} {figures['resolved']:9d} {figures['abandoned']:10d}"
                f" {figures['exhausted']:10d} {figures['escalated']:10d}"
            )
    if report.per_day:
        lines += ["", "Day          conversations  with request  contained  handoffs"]
        for day in report.per_day:
            lines.append(
                f"  {day['day']}  {day['conversations']:13d} {day['with_request']:13d} {day['contained']:10d}"
                f" {day['handoffs']:9d}"
            )
    return "\n".join(lines)
