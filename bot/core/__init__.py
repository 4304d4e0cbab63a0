"""The words every layer shares: messages, buttons, handoff references, text checks, chat addresses.

Nothing here imports the rest of the project (the import contract in pyproject.toml holds it
at the bottom), so persistence, channels, dialogue and desk code can all use it.
"""
