#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs >=3.8,<3.11), or fail clearly.
set -euo pipefail
want=$(cat "$(dirname "$0")/../.python-version" 2>/dev/null || echo 3.10)
candidates=()
[[ -n "${BOT_PYTHON:-}" ]] && candidates+=("$BOT_PYTHON")
if command -v pyenv >/dev/null 2>&1; then
  candidates+=("$(PYENV_VERSION="$want" pyenv which python3.10 2>/dev/null || true)")
fi
candidates+=("${PYENV_ROOT:-$HOME/.pyenv}/versions/$want/bin/python3.10")
for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do candidates+=("$d"); done
candidates+=("$(command -v python3.10 2>/dev/null || true)" /usr/bin/python3.10 /usr/local/bin/python3.10)
for py in "${candidates[@]}"; do
  [[ -n "$py" && -x "$py" ]] || continue
  if "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "$py"; exit 0
  fi
done
echo "error: Python 3.10 not found (Rasa 3.6 needs >=3.8,<3.11). Install it (e.g. 'pyenv install $want') or set BOT_PYTHON=/path/to/python3.10" >&2
exit 1
