#!/usr/bin/env bash
# Make sure a tox 4 is available without touching the system Python:
# a private virtualenv in .tox-bootstrap/ (created once, reused).
# Prints the path of the tox executable.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.tox-bootstrap"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/tox" ]; then
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'tox>=4.11,<5' >&2
fi
echo "$venv/bin/tox"
