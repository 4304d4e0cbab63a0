"""Slack, shared by the customer channel (:mod:`bot.channels.slack`) and the agent desk (:mod:`bot.agentdesk.slack`).

* :mod:`bot.slack.app`: the gateway's one slack-bolt app — its Web API client, the signed
  ``POST /slack/events`` endpoint (signature and replay window checked by slack-bolt) and
  Socket Mode — with ``message`` events offered to each registered handler in turn.
* :mod:`bot.slack.mrkdwn`: escaping text for Slack's mrkdwn and reading an agent's or
  customer's Slack text back as plain text.
"""
