"""Conversations: stored messages, live subscriptions and the customer turn."""
