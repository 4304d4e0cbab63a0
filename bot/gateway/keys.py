"""Typed application state keys (``web.AppKey``) shared by the gateway's modules."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.agentdesk.slack import SlackDesk
from bot.channels.direct import DirectChannel
from bot.channels.inbox import Inbox, InboxWorker
from bot.channels.outbox import Outbox, OutboxWorker
from bot.channels.telegram import TelegramChannel
from bot.channels.texts import ChannelTexts
from bot.channels.web import WebChannel
from bot.conversations.hub import ConversationHub
from bot.conversations.service import ConversationService
from bot.conversations.store import ConversationStore
from bot.dialogue.rasa_client import RasaClient
from bot.handoff.agents import AgentCredentials
from bot.handoff.service import HandoffService
from bot.help import Article
from bot.notifications.orders import OrderNotifications
from bot.notifications.preferences import PreferenceStore
from bot.notifications.texts import NotificationTexts
from bot.records.status import OrderStatusUpdates
from bot.settings import Settings
from bot.slack.app import SlackApp
from bot.texts import Texts

SETTINGS = web.AppKey("settings", Settings)
TEXTS = web.AppKey("texts", Texts)
HELP_ARTICLES = web.AppKey("help_articles", dict[str, Article])
CHANNEL_TEXTS = web.AppKey("channel_texts", ChannelTexts)
ENGINE = web.AppKey("engine", Engine)
HTTP = web.AppKey("http", aiohttp.ClientSession)
STORE = web.AppKey("store", ConversationStore)
HUB = web.AppKey("hub", ConversationHub)
DIALOGUE = web.AppKey("dialogue", RasaClient)
CONVERSATIONS = web.AppKey("conversations", ConversationService)
HANDOFFS = web.AppKey("handoffs", HandoffService)
AGENTS = web.AppKey("agents", AgentCredentials)
WEB = web.AppKey("web", WebChannel)
DIRECT = web.AppKey("direct", DirectChannel)
SLACK_DESK = web.AppKey("slack_desk", SlackDesk)
SLACK = web.AppKey("slack", SlackApp)
TELEGRAM = web.AppKey("telegram", TelegramChannel)
INBOX = web.AppKey("inbox", Inbox)
OUTBOX = web.AppKey("outbox", Outbox)
INBOX_WORKER = web.AppKey("inbox_worker", InboxWorker)
OUTBOX_WORKER = web.AppKey("outbox_worker", OutboxWorker)
ORDER_STATUS = web.AppKey("order_status", OrderStatusUpdates)
ORDER_NOTIFICATIONS = web.AppKey("order_notifications", OrderNotifications)
NOTIFICATION_PREFERENCES = web.AppKey("notification_preferences", PreferenceStore)
NOTIFICATION_TEXTS = web.AppKey("notification_texts", NotificationTexts)
