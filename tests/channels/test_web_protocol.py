"""The web widget's WebSocket frames, parsed without I/O (bot/channels/web_protocol.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.channels.web_protocol import FrameError, Hello, Outgoing, Ping, Pong, parse_frame
from bot.core.jsonsafe import is_encodable
from bot.core.text import clean_text, is_client_id, is_conversation_id
from tests.strategies import any_text, json_objects, json_scalars, json_values


def test_parse_frames() -> None:
    assert parse_frame('{"type":"hello","conversation_id":"web-1","after":7}', 4000) == Hello("web-1", 7, None)
    assert parse_frame('{"type":"hello","conversation_id":null,"after":null}', 4000) == Hello(None, 0, None)
    resume = '{"type":"hello","conversation_id":"web-1","after":0,"resume_secret":"s3cret","customer_token":"t"}'
    assert parse_frame(resume, 4000) == Hello("web-1", 0, "t", "s3cret")
    assert parse_frame('{"type":"ping"}', 10) == Ping()
    assert parse_frame('{"type":"message","text":" hi ","client_id":"a1"}', 10) == Outgoing("hi", None, "a1")
    assert parse_frame('{"type":"message","text":"Yes","payload":"/affirm","client_id":"a"}', 10).payload == "/affirm"
    for raw, code in [
        ("nope", "bad_frame"),
        ("[]", "bad_frame"),
        ('{"type":"dance"}', "bad_frame"),
        ('{"type":"message","text":"hi"}', "bad_frame"),
        ('{"type":"message","text":"hi","client_id":"has space"}', "bad_frame"),
        ('{"type":"message","text":"  ","client_id":"a"}', "bad_frame"),
        (json.dumps({"type": "message", "text": "x" * 11, "client_id": "a"}), "too_long"),
        # A malformed hello is refused (the server then closes), never patched up into a welcome.
        ('{"type":"hello","conversation_id":"bad id","after":true}', "bad_frame"),
        ('{"type":"hello","conversation_id":"web-1","after":"abc"}', "bad_frame"),
        ('{"type":"hello","conversation_id":"web-1","after":-5}', "bad_frame"),
        ('{"type":"hello","conversation_id":7,"after":0}', "bad_frame"),
        ('{"type":"hello","conversation_id":null,"customer_token":7}', "bad_frame"),
        # Nesting and unstorable text are refused before anything else looks at the frame.
        ("[" * 10_000, "bad_frame"),
        ('{"type":"message","text":"\\ud800","client_id":"a"}', "bad_frame"),
    ]:
        with pytest.raises(FrameError) as caught:
            parse_frame(raw, 10)
        assert caught.value.code == code, raw


# -- properties (Hypothesis) ------------------------------------------------------------------

FRAME_KEYS = ("type", "conversation_id", "after", "customer_token", "text", "payload", "client_id")
frame_types = st.sampled_from(["hello", "message", "ping", "pong", "welcome", "", "HELLO"]) | any_text
conversation_ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,128}", fullmatch=True)
client_ids = st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True)
#: Text as a customer may send it: already clean, 1-4000 characters.
clean_texts = st.text(min_size=1, max_size=200).map(clean_text).filter(bool)


def _frames() -> st.SearchStrategy[str]:
    """Raw frames: any text, any JSON, and objects shaped like the protocol's frames."""
    shaped = st.builds(lambda kind, rest: {**rest, "type": kind}, frame_types, json_objects(FRAME_KEYS))
    return st.one_of(any_text, json_values(FRAME_KEYS).map(json.dumps), shaped.map(json.dumps))


@given(_frames(), st.integers(min_value=1, max_value=4000))
@example('{"type": "message", "text": "", "payload": 5, "client_id": "a"}', 10)
@example('{"type": "hello", "after": 1e400}', 10)
def test_parse_frame_raises_nothing_but_frame_error(raw: str, max_chars: int) -> None:
    try:
        frame = parse_frame(raw, max_chars)
    except FrameError as error:
        assert error.code in ("bad_frame", "too_long")
        assert error.client_id is None or is_client_id(error.client_id)
    else:
        assert isinstance(frame, Hello | Outgoing | Ping | Pong)


def test_a_deeply_nested_frame_is_a_frame_error() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame("[" * 10_000 + "]" * 10_000, 4000)
    assert caught.value.code == "bad_frame"


def _hello(conversation_id: str | None, after: int | None, token: str | None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "hello", "conversation_id": conversation_id, "after": after}
    if token is not None:
        frame["customer_token"] = token
    return frame


@given(
    st.one_of(
        st.builds(
            lambda cid, after, token: (_hello(cid, after, token), Hello(cid, after or 0, token)),
            st.none() | conversation_ids,
            st.none() | st.integers(min_value=0, max_value=2**63 - 1),
            st.none() | st.text(min_size=1, max_size=80),
        ),
        st.builds(
            lambda text, payload, cid: (
                {"type": "message", "text": text, "client_id": cid, **({"payload": payload} if payload else {})},
                Outgoing(text, payload or None, cid),
            ),
            clean_texts,
            st.none() | st.text(min_size=1, max_size=1000),
            client_ids,
        ),
        st.just(({"type": "ping"}, Ping())),
        st.just(({"type": "pong"}, Pong())),
    )
)
def test_valid_frames_round_trip(case: tuple[dict[str, Any], Any]) -> None:
    data, frame = case
    assert parse_frame(json.dumps(data), 4000) == frame
    assert parse_frame(json.dumps(data, ensure_ascii=False), 4000) == frame


@given(any_text | st.text(max_size=300), client_ids, st.integers(min_value=1, max_value=120))
def test_the_length_rule(text: str, client_id: str, max_chars: int) -> None:
    """Text is measured after cleaning: empty is bad_frame, over max_chars too_long, else accepted as cleaned.

    Text that cannot be stored (an unpaired surrogate) is a bad_frame that names its message.
    """
    raw = json.dumps({"type": "message", "text": text, "client_id": client_id})
    cleaned = clean_text(text)
    if not is_encodable(text) or not cleaned:
        expected: Any = ("bad_frame", client_id)
    elif len(cleaned) > max_chars:
        expected = ("too_long", client_id)
    else:
        expected = Outgoing(cleaned, None, client_id)
    try:
        got: Any = parse_frame(raw, max_chars)
    except FrameError as error:
        got = (error.code, error.client_id)
    assert got == expected


MALFORMED_HELLO_FIELDS = st.one_of(
    st.fixed_dictionaries(
        {"conversation_id": json_scalars.filter(lambda v: v is not None and not is_conversation_id(v))}
    ),
    st.fixed_dictionaries({"after": json_scalars.filter(lambda v: v is not None and (type(v) is not int or v < 0))}),
    st.fixed_dictionaries({"customer_token": json_scalars.filter(lambda v: v is not None and not isinstance(v, str))}),
)


@given(MALFORMED_HELLO_FIELDS)
@example({"conversation_id": "bad id"})
@example({"after": True})
@example({"after": -1})
@example({"customer_token": 7})
def test_a_malformed_hello_is_a_bad_frame(fields: dict[str, Any]) -> None:
    """docs/websocket-protocol.md: conversation_id a valid id or null, after an integer >= 0 or null."""
    with pytest.raises(FrameError) as caught:
        parse_frame(json.dumps({"type": "hello", **fields}), 4000)
    assert caught.value.code == "bad_frame"


@given(json_objects(FRAME_KEYS).map(lambda rest: {**rest, "type": "message"}))
@example({"type": "message", "text": "hi \ud800", "client_id": "a1"})
@example({"type": "message", "text": "", "payload": "\x00/greet", "client_id": "a1"})
def test_accepted_messages_carry_storable_clean_text(data: dict[str, Any]) -> None:
    try:
        frame = parse_frame(json.dumps(data), 4000)
    except FrameError:
        return
    assert isinstance(frame, Outgoing)
    frame.text.encode("utf-8")
    (frame.payload or "").encode("utf-8")
    assert frame.text == clean_text(frame.text) and frame.text


@pytest.mark.parametrize(
    ("language", "parsed"),
    [("de-DE", "de"), ("fr", "fr"), ("pt_BR", "pt"), (None, None), ("", None), ("x", None), (42, None), ("<b>", None)],
)
def test_a_messages_browser_language_is_kept_when_it_is_a_tag(language: Any, parsed: str | None) -> None:
    frame = {"type": "message", "text": "hello", "client_id": "c-1", "language": language}
    assert parse_frame(json.dumps(frame), 4000) == Outgoing(
        text="hello", payload=None, client_id="c-1", language=parsed
    )
