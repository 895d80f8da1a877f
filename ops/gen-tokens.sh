#!/bin/sh
# Regenerates the binary-node token tables (Sources/WAWire/Nodes/NodeTokens+Tables.swift) from
# ops/tokens.json, a copy of the protocol notes' tokens.json. Refuses if the table hashes differ.
# Usage: ops/gen-tokens.sh [path/to/tokens.json]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
source=${1:-"$root/ops/tokens.json"}
exec python3 "$root/ops/gen-tokens.py" "$source" "$root/Sources/WAWire/Nodes/NodeTokens+Tables.swift"
