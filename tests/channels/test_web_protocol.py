"""The web widget's WebSocket frames, parsed without I/O (bot/channels/web_protocol.py)."""

from __future__ import annotations

import json

import pytest

from bot.channels.web_protocol import FrameError, Hello, Outgoing, Ping, parse_frame


def test_parse_frames() -> None:
    assert parse_frame('{"type":"hello","conversation_id":"web-1","after":7}', 4000) == Hello("web-1", 7, None)
    assert parse_frame('{"type":"hello","conversation_id":"bad id","after":true}', 4000) == Hello(None, 0, None)
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
    ]:
        with pytest.raises(FrameError) as caught:
            parse_frame(raw, 10)
        assert caught.value.code == code, raw
