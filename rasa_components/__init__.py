"""Custom Rasa graph components (policies and NLU components) of the support bot.

Loaded by Rasa from ``config.yml``; the business logic they use lives in ``bot/``.
"""
