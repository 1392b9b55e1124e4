"""kafka/error_code.h gives every error the code Kafka's clients know it by."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import paths


def camel_to_kafka(name: str) -> str:
    # kUnknownTopicOrPartition -> UNKNOWN_TOPIC_OR_PARTITION
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name[1:]).upper()


def test_error_codes_match_kafka_clients():
    header = (paths.ROOT / "kafka" / "error_code.h").read_text()
    ours = {camel_to_kafka(n): int(c) for n, c in re.findall(r"^\s+(k\w+) = (-?\d+),", header,
                                                              re.M)}
    assert len(ours) > 50
    libs = os.environ.get("TERN_KAFKA_LIBS") or str(
        Path.home() / ".cache" / "tern" / "peers" / "kafka-4.4.0" / "libs")
    out = subprocess.run(["java", "-cp", f"{libs}/*", str(Path(__file__).with_name(
        "KafkaErrors.java"))], capture_output=True, text=True, check=True, timeout=120).stdout
    theirs = {name: int(code) for code, name in (line.split() for line in out.splitlines())}
    wrong = {n: (c, theirs.get(n)) for n, c in ours.items() if theirs.get(n) != c}
    assert not wrong, f"name: (tern, kafka) {wrong}"
