#!/usr/bin/env bash
# Makes a Debian machine ready to build and test Tern: Debian packages, a Python venv with the
# test clients, Apache Kafka's jars (broker, CLI tools, MirrorMaker 2) from Maven, and grpcurl
# and buf (built with Go, which must be installed: Debian 12's golang-go is too old for them).
# Idempotent, and quick when everything is already there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  librdkafka-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libasio-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev libssl-dev libsasl2-dev
  kcat prometheus tmux
  clang libclang-rt-14-dev
)

install_debian_packages() {
  local missing=() pkg
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_python_venv() {
  local req=$TERN_ROOT/tests/requirements.txt stamp=$TERN_VENV/.requirements
  if [ -x "$TERN_VENV/bin/python" ] && cmp -s "$req" "$stamp"; then return; fi
  say "preparing the Python venv in $TERN_VENV"
  python3 -m venv "$TERN_VENV"
  "$TERN_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
}

# resolve_jars POM_DIR OUT_DIR -Dname=value...: copies a pom's runtime jars into OUT_DIR.
resolve_jars() {
  local pom_dir=$1 out=$2
  shift 2
  [ -f "$out/.complete" ] && return
  say "resolving $(basename "$pom_dir") jars into $out"
  rm -rf "$out.tmp"
  mvn -q -B -Dstyle.color=never -f "$pom_dir/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$out.tmp" "$@"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  touch "$out/.complete"
}

install_peers() {
  resolve_jars "$TERN_ROOT/scripts/peers/kafka" "$TERN_KAFKA_LIBS" \
    -Dkafka.version="$KAFKA_VERSION" -Dscala.version="$SCALA_VERSION" \
    -Dlog4j.version="$LOG4J_VERSION"
  resolve_jars "$TERN_ROOT/scripts/peers/mirrormaker" "$TERN_MIRRORMAKER_LIBS" \
    -Dmirrormaker.version="$MIRRORMAKER_VERSION" -Dlog4j.version="$LOG4J_VERSION"
}

# install_go_tool NAME PACKAGE VERSION: builds a Go program from source into $TERN_GO_TOOLS
# with `go install`; rebuilt only when its version changes.
install_go_tool() {
  local name=$1 package=$2 version=$3 stamp=$TERN_GO_TOOLS/.$1-version go tmp
  if [ -x "$TERN_GO_TOOLS/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return
  fi
  go=$(command -v go || true)
  [ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
  [ -n "$go" ] || die "go is missing: install Go 1.25 or newer and put it on PATH; it builds \
$name, which the tests call"
  say "building $name $version into $TERN_GO_TOOLS"
  mkdir -p "$TERN_GO_TOOLS"
  tmp=$(mktemp -d)
  GOBIN=$tmp GOFLAGS=-buildvcs=false "$go" install "$package@$version"
  mv "$tmp/$(basename "$package")" "$TERN_GO_TOOLS/$name"
  rm -rf "$tmp"
  printf '%s\n' "$version" >"$stamp"
}

install_debian_packages
install_python_venv
install_peers
# grpcurl calls the replicator's gRPC API in the tests; buf lints the proto files.
install_go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"
install_go_tool buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"
