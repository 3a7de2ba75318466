#!/usr/bin/env bash
# Quick start, command 2: the whole test suite (style, config sample, unit,
# functional on a real Mistral 23, integration on RabbitMQ + PostgreSQL).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tox="$(tools/bootstrap-tox.sh)"
# The st2-side env needs Python 3.8, the Mistral-side ones 3.10/3.13: with pyenv,
# tox finds them in pyenv's version folders (appended: the global Python stays first).
if command -v pyenv >/dev/null 2>&1; then
    for bin in "$(pyenv root)"/versions/3.*/bin; do PATH="$PATH:$bin"; done
    export PATH
fi
exec "$tox" "$@"
