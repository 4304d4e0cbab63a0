"""What the bot tells a verified customer about their own records (pure formatting, no I/O)."""
