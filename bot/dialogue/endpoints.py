"""The Rasa server's endpoints file for this deployment: one host, or a replica of a cluster.

``endpoints.yml`` in the project is the single-host file: the action server, the SQL tracker
store, Rasa's in-memory lock store. A replica of a cluster (docs/scaling.md) needs more, and
Rasa cannot switch a section on from the environment, so :func:`rasa_endpoints` adds to that
file what the settings turn on:

* ``BOT_REDIS_URL``: Rasa's ``RedisLockStore``, so two Rasa servers never run one
  conversation's turns at once (the lock lives ``BOT_LOCK_LIFETIME`` seconds, longer than the
  gateway waits for a turn);
* ``BOT_RABBITMQ_URL``: Rasa's event broker (pika), publishing every tracker event to the
  ``BOT_EVENTS_QUEUE`` queue, which the analytics consumer reads.

Passwords are never written into the file: it names ``${BOT_REDIS_PASSWORD}`` and
``${BOT_RABBITMQ_PASSWORD}``, which Rasa expands from the environment that
:func:`rasa_environment` gives it, as it does the action token and the tracker URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from bot.settings.sections import DialogueSettings, SharedServices

#: Environment variables (names, not values) that hand Rasa the passwords.
REDIS_PASSWORD = "BOT_REDIS_PASSWORD"  # noqa: S105
RABBITMQ_PASSWORD = "BOT_RABBITMQ_PASSWORD"  # noqa: S105


def rasa_endpoints(template: str, services: SharedServices) -> str:
    """The endpoints file: ``template`` (endpoints.yml's text) plus the sections ``services`` turn on."""
    if not services.redis_url and not services.rabbitmq_url:
        return template
    extra: dict[str, Any] = {}
    if services.redis_url:
        redis = urlsplit(services.redis_url)
        lock_store: dict[str, Any] = {
            "type": "redis",
            "url": redis.hostname or "127.0.0.1",
            "port": redis.port or 6379,
            "db": int(redis.path.strip("/") or 0),
            "key_prefix": f"{services.redis_prefix}rasa",  # letters and digits only, or Rasa drops it
            "use_ssl": redis.scheme == "rediss",
        }
        if redis.password:
            lock_store["password"] = f"${{{REDIS_PASSWORD}}}"
        extra["lock_store"] = lock_store
    if services.rabbitmq_url:
        amqp = urlsplit(services.rabbitmq_url)
        vhost = amqp.path if amqp.path not in ("", "/") else ""
        extra["event_broker"] = {
            "type": "pika",
            "url": f"{amqp.scheme}://{amqp.hostname or '127.0.0.1'}:{amqp.port or 5672}{vhost}",
            "port": amqp.port or 5672,
            "username": unquote(amqp.username or "guest"),
            "password": f"${{{RABBITMQ_PASSWORD}}}",
            "queues": [services.events_queue],
            "raise_on_failure": False,
        }
    added = yaml.safe_dump(extra, sort_keys=False)
    return f"{template.rstrip()}\n\n# Added for a replica of a cluster (bot/dialogue/endpoints.py).\n{added}"


def rasa_environment(dialogue: DialogueSettings, services: SharedServices) -> dict[str, str]:
    """What the Rasa server's environment needs for the endpoints file and its lock (on top of the ``BOT_*``)."""
    redis, amqp = urlsplit(services.redis_url), urlsplit(services.rabbitmq_url)
    return {
        "BOT_ACTION_URL": dialogue.action_url,
        "TICKET_LOCK_LIFETIME": str(dialogue.lock_lifetime_s),
        REDIS_PASSWORD: unquote(redis.password or ""),
        RABBITMQ_PASSWORD: unquote(amqp.password or "guest") if services.rabbitmq_url else "",
    }
