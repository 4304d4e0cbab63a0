"""Support analytics: outcome events, the figures a support team asks for, and the report (docs/analytics.md)."""
