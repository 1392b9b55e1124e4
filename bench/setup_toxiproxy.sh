#!/usr/bin/env bash
# Installs toxiproxy-server and toxiproxy-cli (the WAN emulation of bench/replicator_bench.py)
# with `go install` into the cache outside the clone: $TERN_CACHE/toxiproxy-<version>/bin.
# Idempotent: does nothing when both programs are there. Prints the bin folder.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

TOXIPROXY_VERSION=${TOXIPROXY_VERSION:-v2.5.0}
bin=$TERN_CACHE/toxiproxy-$TOXIPROXY_VERSION/bin

if [ ! -x "$bin/toxiproxy-server" ] || [ ! -x "$bin/toxiproxy-cli" ]; then
  command -v go >/dev/null || die "go is not installed (toxiproxy is built with go install)"
  say "installing toxiproxy $TOXIPROXY_VERSION into $bin"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # go install names each program after its folder (cmd/server, cmd/cli).
  GOBIN=$tmp GOFLAGS=-buildvcs=false go install \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  mkdir -p "$bin"
  mv "$tmp/server" "$bin/toxiproxy-server"
  mv "$tmp/cli" "$bin/toxiproxy-cli"
fi
echo "$bin"
