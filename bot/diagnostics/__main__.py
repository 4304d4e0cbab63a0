"""``python -m bot.diagnostics [FOLDER]``: validate the troubleshooting guides."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.diagnostics.loader import validate_guides

DEFAULT_FOLDER = Path("data/diagnostics")


def main(argv: list[str] | None = None) -> int:
    """Print every problem of the guides in FOLDER; return 1 if there are any."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else DEFAULT_FOLDER
    problems = validate_guides(folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{folder}: all guides are valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
