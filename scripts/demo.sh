#!/usr/bin/env bash
# make demo: build agentsecrets and run the main job end to end on embedded
# defaults (a temporary home, the encrypted-file backend, a loopback API).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/agentsecrets ./cmd/agentsecrets
go run ./testdata/demo bin/agentsecrets
