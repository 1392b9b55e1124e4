#!/usr/bin/env bash
# Configures (once) and builds Tern with CMake and Ninja into $TERN_BUILD (default ./build).
# Extra arguments go to CMake's configure step, e.g. -DTERN_SANITIZE=ON.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# ccache keys on paths relative to the clone, so a fresh clone reuses the cache.
export CCACHE_BASEDIR=$TERN_ROOT CCACHE_NOHASHDIR=true

if [ ! -f "$TERN_BUILD/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$TERN_ROOT" -B "$TERN_BUILD" -G Ninja "$@" >/dev/null
fi
say "building in $TERN_BUILD"
cmake --build "$TERN_BUILD"
