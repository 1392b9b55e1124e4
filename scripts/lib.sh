# Shared by Tern's scripts: paths, pinned versions, small helpers. Source it; do not run it.
# Caches live outside the clone so that a fresh clone is quick to set up:
#   TERN_CACHE (default ~/.cache/tern): the Python venv, the peers' jars and Go tools.
TERN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TERN_CACHE=${TERN_CACHE:-$HOME/.cache/tern}
TERN_BUILD=${TERN_BUILD:-$TERN_ROOT/build}
TERN_VENV=$TERN_CACHE/venv
# shellcheck source=versions.env
. "$TERN_ROOT/scripts/versions.env"
TERN_KAFKA_LIBS=$TERN_CACHE/peers/kafka-$KAFKA_VERSION/libs
TERN_MIRRORMAKER_LIBS=$TERN_CACHE/peers/mirrormaker-$MIRRORMAKER_VERSION/libs
TERN_GO_TOOLS=$TERN_CACHE/go-tools/bin
export TERN_ROOT TERN_CACHE TERN_BUILD TERN_VENV TERN_KAFKA_LIBS TERN_MIRRORMAKER_LIBS \
  TERN_GO_TOOLS

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
