"""Typed reads of ``BOT_*`` environment variables, and the development tokens kept in ``var/``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path


class SettingsError(ValueError):
    """A ``BOT_*`` variable is missing or malformed."""


def env_value(value: object) -> str:
    """A setting as a child process reads it back from its environment."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


class Env:
    """Typed reads of one environment mapping, with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        """Read from ``env``."""
        self._env = env

    def text(self, name: str, default: str = "") -> str:
        """The value without surrounding spaces; ``default`` when unset or blank."""
        return self._env.get(name, "").strip() or default

    def secret(self, name: str) -> str:
        """The value exactly as given (a password may start or end with a space)."""
        return self._env.get(name, "")

    def words(self, name: str) -> list[str]:
        """A comma-separated list, blanks dropped."""
        return [word.strip() for word in self.text(name).split(",") if word.strip()]

    def switched_on(self, name: str) -> bool:
        """An opt-in switch: on only for 1, true or yes."""
        return self.text(name).lower() in ("1", "true", "yes")

    def switched_off(self, name: str) -> bool:
        """An opt-out switch: off only for 0, false, no or off."""
        return self.text(name).lower() in ("0", "false", "no", "off")

    def integer(self, name: str, default: int) -> int:
        """A whole number of 0 or more.

        Raises:
            SettingsError: not a number, or negative.
        """
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
        if value < 0:
            raise SettingsError(f"{name} must not be negative, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        """A number.

        Raises:
            SettingsError: not a number.
        """
        raw = self.text(name)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None

    def path(self, name: str, default: Path) -> Path:
        """An absolute path."""
        raw = self.text(name)
        return Path(raw).resolve() if raw else default


def dev_tokens(var_dir: Path, wanted: list[str], *, nbytes: int = 24, renew: bool = False) -> dict[str, str]:
    """Load or create development tokens in ``var/dev-secrets.json`` (mode 0600).

    Args:
        var_dir: The run-time folder.
        wanted: The tokens' names in the file.
        nbytes: Random bytes of a token created now.
        renew: Replace the stored tokens of ``wanted`` with new ones.
    """
    path = var_dir / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            stored = {k: v for k, v in loaded.items() if isinstance(v, str)}
        except (OSError, ValueError):
            stored = {}
    changed = False
    for name in wanted:
        if renew or not stored.get(name):
            stored[name] = secrets.token_urlsafe(nbytes)
            changed = True
    if changed:
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
    return {name: stored[name] for name in wanted}
