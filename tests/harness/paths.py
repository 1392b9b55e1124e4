"""Where the build, the peers' tools and the caches are. Mirrors scripts/lib.sh."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TERN_BUILD", ROOT / "build"))
BIN = BUILD / "bin"
KAFKA_TOOLS = ROOT / "scripts" / "peers" / "bin"
CACHE = Path(os.environ.get("TERN_CACHE", Path.home() / ".cache" / "tern"))
GO_TOOLS = Path(os.environ.get("TERN_GO_TOOLS", CACHE / "go-tools" / "bin"))


def program(name: str) -> Path:
    """Path of one of Tern's programs in the build; fails clearly if it was not built."""
    path = BIN / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build with scripts/build.sh")
    return path


def go_tool(name: str) -> Path:
    """Path of a Go tool scripts/setup.sh builds (grpcurl); fails clearly if it is missing."""
    path = GO_TOOLS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run scripts/setup.sh")
    return path


def kafka_tool(name: str) -> Path:
    """Path of one of Apache Kafka's CLI tools (kafka-topics, kafka-console-consumer, ...)."""
    return KAFKA_TOOLS / name
