#!/usr/bin/env bash
# Quick start, command 2: the whole test suite (style, config sample, unit,
# functional on a real Mistral 23, integration on RabbitMQ + PostgreSQL).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tox="$(tools/bootstrap-tox.sh)"
exec "$tox" "$@"
