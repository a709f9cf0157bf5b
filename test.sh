#!/usr/bin/env bash
# Runs every test, as the README says. Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")"
go test -race -count=1 -timeout=20m "$@" ./...
# The jail's tests once more, every program started by a kept jail's
# keeper, as a session's later commands are (sandbox/helpers_test.go).
CUBBY_SANDBOX_KEPT=1 go test -race -count=1 -timeout=10m "$@" ./sandbox
