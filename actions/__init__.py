"""Rasa SDK custom actions (thin)."""
