"""Tern's message schemas (kafka/messages/*.schema) describe the same bytes as Apache Kafka's
own client library: for every API and version Tern defines, the fields, their order, types,
nullability and tags equal what kafka-clients 4.4 uses on the wire."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import paths

SCHEMAS = sorted((paths.ROOT / "kafka" / "messages").glob("*.schema"))


def ours() -> dict[tuple[str, str, str], str]:
    out = subprocess.run([sys.executable, str(paths.ROOT / "kafka" / "gen.py"), "--canonical",
                          *map(str, SCHEMAS)], capture_output=True, text=True, check=True).stdout
    return parse(out)


def kafkas(api_keys: set[str]) -> dict[tuple[str, str, str], str]:
    libs = os.environ.get("TERN_KAFKA_LIBS") or str(
        Path.home() / ".cache" / "tern" / "peers" / "kafka-4.4.0" / "libs")
    out = subprocess.run(["java", "-cp", f"{libs}/*", str(Path(__file__).with_name(
        "KafkaSchemaDump.java")), *sorted(api_keys)], capture_output=True, text=True,
        check=True, timeout=120).stdout
    return parse(out)


def parse(text: str) -> dict[tuple[str, str, str], str]:
    table = {}
    for line in text.splitlines():
        key, version, direction, schema = line.split(" ", 3)
        table[(key, version, direction)] = schema
    return table


def test_every_schema_file_is_checked():
    assert SCHEMAS, "no schema files found"


def test_schemas_match_kafka_clients_field_by_field():
    mine = ours()
    theirs = kafkas({k for k, _, _ in mine})
    missing = sorted(k for k in mine if k not in theirs)
    assert not missing, f"versions Tern defines that Kafka does not: {missing}"
    different = [f"{k}:\n  tern:  {mine[k]}\n  kafka: {theirs[k]}"
                 for k in sorted(mine, key=lambda k: (int(k[0]), int(k[1]), k[2]))
                 if mine[k] != theirs[k]]
    assert not different, "\n".join(different)
