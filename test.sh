#!/usr/bin/env bash
# Runs every test, as the README says. Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")"
exec go test -race -count=1 -timeout=20m "$@" ./...
