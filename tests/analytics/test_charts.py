"""The dashboard's SVG charts and its HTML fragment: pure functions, no database."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from hypothesis import given

from bot.analytics import events as ev
from bot.analytics.charts import NO_DATA, Bar, Series, bar_chart, empty_chart, grouped_bars, line_chart
from bot.analytics.dashboard import render_html
from bot.analytics.metrics import ConversationRow, Dataset, HandoffRow, compute
from tests.strategies import any_text

SVG = "{http://www.w3.org/2000/svg}"
TAGS = {"svg", "title", "rect", "text", "g", "line", "polyline", "circle"}


class Tags(HTMLParser):
    """The tags and attribute names an HTML parser sees in a chart."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == f"{SVG}svg"
    return root


def points(svg: str) -> int:
    found = re.search(r'data-points="(\d+)"', svg)
    assert found is not None
    return int(found.group(1))


def test_a_bar_chart_draws_a_bar_per_row_with_its_note() -> None:
    svg = bar_chart("reasons", "Handoffs by reason", [Bar("customer request", 3, "3 of 4"), Bar("frustration", 1)])

    root = parsed(svg)
    assert root.get("data-chart") == "reasons" and points(svg) == 2
    assert root.get("role") == "img" and root.findtext(f"{SVG}title") == "Handoffs by reason"
    assert root.get("aria-label") == "Handoffs by reason: customer request 3 of 4, frustration 1"
    widest, other = (float(r.get("width", "0")) for r in root.iter(f"{SVG}rect"))
    assert other == round(widest / 3, 1)  # scaled to the largest value
    assert "3 of 4" in svg and NO_DATA not in svg


def test_nothing_to_draw_says_no_data_yet() -> None:
    for svg in (
        bar_chart("a", "A", []),
        bar_chart("a", "A", [Bar("x", 0), Bar("y", 0)]),
        grouped_bars("b", "B", ["1", "2"], [Series("bot", [0, 0])]),
        line_chart("c", "C", [], [Series("all", [])]),
        line_chart("c", "C", ["2024-05-06"], [Series("all", [0])]),
        empty_chart("d", "D"),
    ):
        root = parsed(svg)
        assert points(svg) == 0 and NO_DATA in svg
        assert root.get("aria-label", "").endswith(f": {NO_DATA}")


def test_grouped_bars_draw_every_series_in_every_group() -> None:
    svg = grouped_bars(
        "csat", "CSAT", ["1 ★", "2 ★", "3 ★"], [Series("bot only", [0, 1, 4]), Series("with an agent", [2, 0, 1])]
    )

    root = parsed(svg)
    assert points(svg) == 6
    assert "bot only" in svg and "with an agent" in svg  # the legend
    assert sum(1 for _ in root.iter(f"{SVG}g")) == 6


def test_a_line_chart_draws_a_point_per_day_and_series() -> None:
    days = [(dt.date(2024, 5, 1) + dt.timedelta(days=n)).isoformat() for n in range(30)]
    svg = line_chart("trend", "Per day", days, [Series("all", list(range(30))), Series("handoffs", [1] * 30)])

    root = parsed(svg)
    assert points(svg) == 60
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "05-01" in labels and "05-30" in labels and "05-02" not in labels  # thinned out, ends kept
    single = line_chart("trend", "Per day", ["2024-05-01"], [Series("all", [3])])
    assert points(single) == 1 and "<polyline" not in single


@given(label=any_text, name=any_text)
def test_no_text_becomes_markup(label: str, name: str) -> None:
    for svg in (
        bar_chart(name, label, [Bar(label, 1, label)]),
        grouped_bars(name, label, [label], [Series(label, [1])]),
        line_chart(name, label, [f"2024-05-01{label}"], [Series(label, [1])]),
        empty_chart(name, label),
    ):
        tags = Tags()
        tags.feed(svg)
        assert tags.tags <= TAGS
        assert tags.attributes <= {
            "class", "xmlns", "viewbox", "width", "height", "role", "aria-label", "data-chart", "data-points",
            "font-family", "font-size", "x", "y", "rx", "fill", "stroke", "text-anchor", "x1", "x2", "y1", "y2",
            "points", "stroke-width", "cx", "cy", "r",
        }  # fmt: skip


def test_the_dashboard_counts_days_without_conversations_as_zero() -> None:
    monday = dt.datetime(2024, 5, 6)
    conversations = [
        ConversationRow("a", "web", None, monday + dt.timedelta(hours=9), monday + dt.timedelta(hours=9)),
        ConversationRow("b", "web", None, monday + dt.timedelta(days=6, hours=23), monday + dt.timedelta(days=6)),
    ]
    turns = [ev.OutcomeEvent(ev.TURN, c.id, "web", None, "order_status", 0.9, at=c.created_at) for c in conversations]
    late = HandoffRow("b", "customer_request", monday + dt.timedelta(days=7, minutes=5))  # after the period
    report = compute(Dataset(conversations, turns, [late]), monday, monday + dt.timedelta(days=7))

    markup = render_html(report)

    trend = re.search(r'<svg [^>]*data-chart="trend".*?</svg>', markup, flags=re.S)
    assert trend is not None
    assert points(trend.group(0)) == 8 * 4  # the 7 days of the period and the day of the late handoff
    assert "2024-05-08, conversations: 0" in trend.group(0)
    assert 'data-since="2024-05-06" data-until="2024-05-12"' in markup
