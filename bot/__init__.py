"""Support bot gateway and services."""
