#!/usr/bin/env bash
# Quick start, command 1: the st2 publisher on a real single-process Mistral 23
# and the st2 API emulator; prints the operator trace and the st2 record.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tox="$(tools/bootstrap-tox.sh)"
exec "$tox" -e demo -- "$@"
