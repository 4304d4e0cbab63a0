"""Two requests in one message: where to split, which part to offer."""

from __future__ import annotations

import pytest

from bot.conversations.requests import Parsed, button_title, other_request, split_requests


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "hi, my wifi keeps dropping and also where is my order?",
            ("hi, my wifi keeps dropping", "where is my order?"),
        ),
        (
            "my router won't turn on. also how much is the mesh trio",
            ("my router won't turn on", "how much is the mesh trio"),
        ),
        (
            "can you check order 104873, by the way do you open on sunday",
            ("can you check order 104873", "do you open on sunday"),
        ),
        ("does the mesh duo work with the velo and the ax6000", None),  # "and" alone joins products, not requests
        ("hi. where is my order", None),  # too short to be a request
        ("where is my order?", None),
    ],
)
def test_messages_are_split_at_request_connectors(text: str, parts: tuple[str, str] | None) -> None:
    assert split_requests(text) == parts


def test_the_part_the_bot_did_not_serve_is_offered_once_it_is_a_confident_other_request() -> None:
    parts = ("my wifi keeps dropping", "where is my order?")
    wifi, order = Parsed("problem_wifi_drops", 0.9), Parsed("order_status", 0.92)
    assert other_request(Parsed("problem_wifi_drops", 0.7), wifi, order, parts) == "where is my order?"
    assert other_request(Parsed("order_status", 0.7), wifi, order, parts) == "my wifi keeps dropping"
    # Not confident, the same request twice, or neither part is what the bot served: nothing offered.
    assert other_request(Parsed("problem_wifi_drops", 0.7), wifi, Parsed("order_status", 0.5), parts) is None
    assert other_request(Parsed("order_status", 0.9), order, order, parts) is None
    assert other_request(Parsed("greet", 0.9), wifi, order, parts) is None
    assert other_request(Parsed("problem_wifi_drops", 0.9), wifi, Parsed("chitchat", 0.95), parts) is None


def test_button_titles_are_short() -> None:
    assert button_title("where is my order?") == "where is my order?"
    long = "could you please also tell me when the parcel with my new mesh duo kit is going to arrive here"
    title = button_title(long)
    assert len(title) <= 60 and title.endswith("…") and long.startswith(title[:-1])
