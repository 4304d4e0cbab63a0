"""Properties of reading Telegram updates, without I/O (bot/channels/telegram.py ``route``, PTB's ``Update.de_json``).

The webhook stores every update that ``route`` accepts; the inbox worker later reads it with
``Update.de_json`` and uses its message (chat, text, sender) or callback query (sender, data,
message's chat). So whatever ``route`` accepts must be readable that way.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from telegram import Update, User

from bot.channels.telegram import route
from tests.strategies import json_objects, json_scalars, json_values

UPDATE_KEYS = (
    "update_id",
    "message",
    "callback_query",
    "edited_message",
    "chat",
    "id",
    "type",
    "text",
    "data",
    "from",
    "date",
    "message_id",
)
CHAT_TYPES = ("private", "group", "supergroup", "channel")

# -- strategies ---------------------------------------------------------------------------------

ids = st.integers(min_value=-(2**52), max_value=2**52)
users = st.fixed_dictionaries(
    {"id": st.integers(1, 2**40), "is_bot": st.just(False), "first_name": st.text(min_size=1)}
)


def _messages(chat_type: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A Message as Telegram sends it."""
    return st.fixed_dictionaries(
        {
            "message_id": st.integers(1, 2**31),
            "date": st.integers(0, 2**32),
            "chat": st.fixed_dictionaries({"id": ids, "type": chat_type}),
        },
        optional={"from": users, "text": st.text(max_size=50)},
    )


def well_formed_updates(chat_type: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Updates as the Bot API sends them: a message, or a button press on one of our messages."""
    callback = st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=20), "from": users, "chat_instance": st.text(max_size=20)},
        optional={"data": st.text(max_size=64), "message": _messages(chat_type)},
    )
    return st.fixed_dictionaries(
        {"update_id": st.integers(0, 2**31)},
        optional={"message": _messages(chat_type), "callback_query": callback},
    )


def _loose(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right shape, or anything else in its place."""
    return st.one_of(value, json_values(UPDATE_KEYS))


loose_chats = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(ids, json_scalars),
        "type": st.one_of(st.sampled_from(CHAT_TYPES), json_scalars),
        "title": json_scalars,
    },
)
loose_messages = st.fixed_dictionaries(
    {"chat": _loose(loose_chats)},
    optional={
        "message_id": _loose(st.integers()),
        "date": _loose(st.integers()),
        "text": _loose(st.text()),
        "from": _loose(users),
        "entities": json_values(UPDATE_KEYS),
    },
)
#: Shaped like updates, with any field missing, of the wrong type, or out of place.
loose_updates = st.one_of(
    json_objects(UPDATE_KEYS),
    st.fixed_dictionaries(
        {"update_id": _loose(st.integers())},
        optional={
            "message": _loose(loose_messages),
            "callback_query": _loose(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": _loose(st.text()),
                        "from": _loose(users),
                        "data": _loose(st.text()),
                        "message": _loose(loose_messages),
                        "chat_instance": json_scalars,
                    },
                )
            ),
        },
    ),
)


def _chat_of(update: dict[str, Any]) -> Any:
    """The chat ``route`` should look at: the message's, else the pressed button's message's."""
    message = update.get("message")
    if not isinstance(message, dict):
        query = update.get("callback_query")
        message = query.get("message") if isinstance(query, dict) else None
    return message.get("chat") if isinstance(message, dict) else None


# -- route ----------------------------------------------------------------------------------------


@given(loose_updates | well_formed_updates(st.sampled_from(CHAT_TYPES)))
def test_route_never_raises_and_routes_only_private_chats(update: dict[str, Any]) -> None:
    routed = route(update)
    if routed is None:
        return
    chat = _chat_of(update)
    assert isinstance(chat, dict) and chat.get("type") == "private"
    assert isinstance(update["update_id"], int) and not isinstance(update["update_id"], bool)
    assert routed == (str(update["update_id"]), f"telegram-{chat['id']}")


@given(well_formed_updates(st.just("private")))
def test_route_takes_every_private_message_and_button_press(update: dict[str, Any]) -> None:
    chat = _chat_of(update)
    expected = None if chat is None else (str(update["update_id"]), f"telegram-{chat['id']}")
    assert route(update) == expected


@given(loose_updates)
@example({"update_id": 1, "message": {"chat": {"id": True, "type": "private"}}})
def test_route_refuses_chat_ids_that_are_not_integers(update: dict[str, Any]) -> None:
    routed = route(update)
    if routed is not None:
        chat_id = _chat_of(update)["id"]
        assert type(chat_id) is int
        assert routed[1] == f"telegram-{int(chat_id)}"


# -- reading what route accepted (TelegramChannel.process) ---------------------------------------


def _read(update: dict[str, Any]) -> Update:
    """What ``process`` does with a stored update before it looks at its parts, and the parts it uses."""
    read = Update.de_json(update, None)
    if read.callback_query is not None:
        query = read.callback_query
        assert isinstance(query.from_user, User)
        assert query.data is None or isinstance(query.data, str)
        assert query.message is None or isinstance(query.message.chat.id, int)
    elif read.message is not None:
        message = read.message
        assert isinstance(message.chat.id, int)
        assert message.text is None or isinstance(message.text, str)
        assert message.from_user is None or isinstance(message.from_user, User)
    return read


@given(well_formed_updates(st.just("private")))
def test_well_formed_private_updates_are_read_as_routed(update: dict[str, Any]) -> None:
    routed = route(update)
    read = _read(update)
    if routed is not None:
        assert read.effective_chat is not None and routed[1] == f"telegram-{read.effective_chat.id}"


@given(loose_updates)
@example({"update_id": 1, "message": {"chat": {"id": 1, "type": "private"}}})
@example({"update_id": 2, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": 5}})
def test_every_routed_update_can_be_read(update: dict[str, Any]) -> None:
    if route(update) is not None:
        _read(update)
