#!/usr/bin/env bash
# Regenerates Sources/WAWire/Protobuf/*.pb.swift from Sources/WAWire/Protobuf/proto/*.proto.
# The generated Swift is committed; CI never runs this. Run it after editing a .proto file.
# Safe to run repeatedly: the plugin build is cached in .build-protoc/ (git-ignored) and the
# output directory ends up holding exactly one .pb.swift per .proto file.
set -euo pipefail

# Must match the swift-protobuf version the package resolves, so the generated code and the
# runtime library agree.
SWIFT_PROTOBUF_VERSION="1.39.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO_DIR="$ROOT/Sources/WAWire/Protobuf/proto"
OUT_DIR="$ROOT/Sources/WAWire/Protobuf"
CACHE="$ROOT/.build-protoc"
PLUGIN_SRC="$CACHE/swift-protobuf-$SWIFT_PROTOBUF_VERSION"
PLUGIN="$PLUGIN_SRC/.build/release/protoc-gen-swift"

if ! command -v protoc >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update
    $SUDO apt-get install -y protobuf-compiler
fi

if [ ! -x "$PLUGIN" ]; then
    mkdir -p "$CACHE"
    if [ ! -d "$PLUGIN_SRC/.git" ]; then
        rm -rf "$PLUGIN_SRC"
        git -c advice.detachedHead=false clone --quiet --depth 1 --branch "$SWIFT_PROTOBUF_VERSION" \
            https://github.com/apple/swift-protobuf.git "$PLUGIN_SRC"
    fi
    (cd "$PLUGIN_SRC" && swift build -c release --product protoc-gen-swift)
fi

# Generate into a scratch folder first so a failing protoc run leaves the committed files alone.
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
protoc \
    --plugin=protoc-gen-swift="$PLUGIN" \
    --proto_path="$PROTO_DIR" \
    --swift_out="$STAGE" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=DropPath \
    "$PROTO_DIR"/*.proto

rm -f "$OUT_DIR"/*.pb.swift
cp "$STAGE"/*.pb.swift "$OUT_DIR"/
echo "generated: $(cd "$OUT_DIR" && ls ./*.pb.swift | tr '\n' ' ')"
