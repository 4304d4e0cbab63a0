"""Charts for the insights dashboard, drawn as inline SVG on the server: pure, no I/O.

Three kinds: :func:`bar_chart` (one value per labelled row), :func:`grouped_bars` (several
series per row) and :func:`line_chart` (series over days). Every chart is an
``<svg role="img">`` with a ``<title>``, an ``aria-label``, ``data-chart="<name>"`` and
``data-points="<n>"`` (how many values it drew, so a test can tell a chart with data from an
empty one); with nothing to draw it says "no data yet". Every text is escaped, so a guide or
article name from the database cannot become markup. Only presentation attributes are used
(no ``style``), so the page's Content-Security-Policy can forbid inline styles.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Okabe-Ito colours: told apart with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000")
WIDTH = 640
NO_DATA = "no data yet"
_LABEL_W = 180
_NOTE_W = 150
_ROW = 26
_BAR = 14
_SERIES_BAR = 11
_LEGEND_H = 24
_TEXT = "#1f2937"
_MUTED = "#4b5563"
_GRID = "#e5e7eb"
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart; ``note`` is written after the bar instead of the bare value."""

    label: str
    value: float
    note: str | None = None


@dataclass(frozen=True)
class Series:
    """A named sequence of values (one per row or day)."""

    name: str
    values: Sequence[float]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def _short(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(name: str, title: str, height: int, points: int, summary: str, body: str, width: int = WIDTH) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}: {_e(summary)}" '
        f'data-chart="{_e(name)}" data-points="{points}" {_FONT}>'
        f"<title>{_e(title)}</title>{body}</svg>"
    )


def empty_chart(name: str, title: str, *, width: int = WIDTH) -> str:
    """A chart with nothing to draw: its frame and "no data yet"."""
    body = (
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="79" rx="6" fill="#f9fafb" stroke="{_GRID}"/>'
        f'<text x="{width // 2}" y="45" text-anchor="middle" fill="{_MUTED}">{NO_DATA}</text>'
    )
    return _svg(name, title, 80, 0, NO_DATA, body, width)


def _legend(series: Sequence[Series]) -> str:
    parts, x = [], 0
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="4" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text x="{x + 17}" y="14" fill="{_TEXT}">{_e(s.name)}</text>'
        )
        x += 30 + 7 * len(s.name)
    return "".join(parts)


def bar_chart(name: str, title: str, bars: Sequence[Bar], *, colour: str = PALETTE[0]) -> str:
    """Horizontal bars, one per row, scaled to the largest value; empty when every value is 0."""
    if not bars or not any(b.value for b in bars):
        return empty_chart(name, title)
    top = max(b.value for b in bars)
    span = WIDTH - _LABEL_W - _NOTE_W - 8
    rows = []
    for i, b in enumerate(bars):
        y = i * _ROW
        width = span * b.value / top if top else 0
        note = b.note if b.note is not None else _number(b.value)
        rows.append(
            f"<g><title>{_e(b.label)}: {_e(note)}</title>"
            f'<text x="{_LABEL_W - 8}" y="{y + 17}" text-anchor="end" fill="{_TEXT}">{_e(_short(b.label))}</text>'
            f'<rect x="{_LABEL_W}" y="{y + 5}" width="{width:.1f}" height="{_BAR}" rx="2" fill="{colour}"/>'
            f'<text x="{_LABEL_W + width + 6:.1f}" y="{y + 17}" fill="{_MUTED}">{_e(note)}</text></g>'
        )
    summary = ", ".join(f"{b.label} {b.note if b.note is not None else _number(b.value)}" for b in bars)
    return _svg(name, title, len(bars) * _ROW + 6, len(bars), summary, "".join(rows))


def grouped_bars(name: str, title: str, groups: Sequence[str], series: Sequence[Series]) -> str:
    """Horizontal bars in groups: one bar per series in each group, with a legend; empty when all are 0."""
    if not groups or not series or not any(v for s in series for v in s.values):
        return empty_chart(name, title)
    top = max(v for s in series for v in s.values)
    span = WIDTH - _LABEL_W - 60
    group_h = len(series) * (_SERIES_BAR + 2) + 10
    rows = []
    for g, group in enumerate(groups):
        y0 = _LEGEND_H + g * group_h
        bars = []
        for i, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else 0
            y = y0 + 4 + i * (_SERIES_BAR + 2)
            width = span * value / top if top else 0
            bars.append(
                f"<g><title>{_e(group)}, {_e(s.name)}: {_number(value)}</title>"
                f'<rect x="{_LABEL_W}" y="{y}" width="{width:.1f}" height="{_SERIES_BAR}" rx="2" '
                f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                f'<text x="{_LABEL_W + width + 5:.1f}" y="{y + 10}" font-size="11" fill="{_MUTED}">'
                f"{_number(value)}</text></g>"
            )
        middle = y0 + group_h / 2 + 4
        rows.append(
            f'<text x="{_LABEL_W - 8}" y="{middle:.1f}" text-anchor="end" fill="{_TEXT}">'
            f"<title>{_e(group)}</title>{_e(_short(group))}</text>" + "".join(bars)
        )
    summary = "; ".join(
        f"{group}: " + ", ".join(f"{s.name} {_number(s.values[g] if g < len(s.values) else 0)}" for s in series)
        for g, group in enumerate(groups)
    )
    height = _LEGEND_H + len(groups) * group_h + 4
    return _svg(name, title, height, len(groups) * len(series), summary, _legend(series) + "".join(rows))


def _step(top: float) -> int:
    """A round tick step (1, 2 or 5 times a power of ten) giving about four ticks up to ``top``."""
    raw = max(top / 4, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def line_chart(
    name: str, title: str, days: Sequence[str], series: Sequence[Series], *, width: int = WIDTH, height: int = 260
) -> str:
    """Series over days (ISO dates on the x axis), with a y grid and a legend; empty when all are 0."""
    if not days or not series or not any(v for s in series for v in s.values):
        return empty_chart(name, title, width=width)
    left, right, top_y, bottom = 44, 16, _LEGEND_H + 12, height - 28
    top = max(v for s in series for v in s.values)
    step = _step(top)
    y_max = step * math.ceil(top / step)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (len(days) - 1) if len(days) > 1 else 0.5)

    def y(value: float) -> float:
        return bottom - (bottom - top_y) * value / y_max

    parts = [_legend(series)]
    for tick in range(0, y_max + 1, step):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{_GRID}"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{_MUTED}">{tick}</text>'
        )
    every = max(1, math.ceil(len(days) * 70 / (width - left - right)))  # a label per 70 units
    for i, day in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" fill="{_MUTED}">{_e(day[5:])}</text>'
            )
    points = 0
    for n, s in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        coordinates = [(x(i), y(s.values[i] if i < len(s.values) else 0)) for i in range(len(days))]
        if len(coordinates) > 1:
            line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coordinates)
            parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, (cx, cy) in enumerate(coordinates):
            value = s.values[i] if i < len(s.values) else 0
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}">'
                f"<title>{_e(days[i])}, {_e(s.name)}: {_number(value)}</title></circle>"
            )
            points += 1
    summary = f"{', '.join(s.name for s in series)} per day, {days[0]} to {days[-1]}"
    return _svg(name, title, height, points, summary, "".join(parts), width)
