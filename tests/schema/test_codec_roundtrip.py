"""Tern's generated message codecs give back byte for byte what Apache Kafka's own client library
encodes: for every API and version Tern has a codec for, bodies built and serialized by
kafka-clients 4.4 (KafkaMessageVectors.java) decode, re-encode to the same bytes, fail cleanly
when cut short at any length, and leave trailing junk unread (build/kafka/kafka_codec_roundtrip
does the checking)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import paths

SEED = "20240611"
MIN_VECTORS_PER_VERSION = 5


def checker() -> Path:
    path = paths.BUILD / "kafka" / "kafka_codec_roundtrip"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build with scripts/build.sh")
    return path


def test_kafka_encoded_bodies_round_trip_byte_for_byte(tmp_path):
    ranges = subprocess.run([checker(), "--list"], capture_output=True, text=True, check=True,
                            timeout=30).stdout.split()
    assert ranges, "the codec registry lists no APIs"
    libs = os.environ.get("TERN_KAFKA_LIBS") or str(
        Path.home() / ".cache" / "tern" / "peers" / "kafka-4.4.0" / "libs")
    vectors = tmp_path / "vectors.txt"
    made = subprocess.run(["java", "-cp", f"{libs}/*",
                           str(Path(__file__).with_name("KafkaMessageVectors.java")),
                           str(vectors), SEED, *ranges],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr

    counts: dict[tuple[str, str], int] = {}
    for line in vectors.read_text().splitlines():
        key, version, _ = line.split(" ", 2)
        counts[(key, version)] = counts.get((key, version), 0) + 1
    wanted = [(key, str(v)) for key, lo, hi in (re.fullmatch(r"(\d+):(\d+)-(\d+)", r).groups()
                                                for r in ranges)
              for v in range(int(lo), int(hi) + 1)]
    thin = [f"{k} v{v}: {counts.get((k, v), 0)}" for k, v in wanted
            if counts.get((k, v), 0) < MIN_VECTORS_PER_VERSION]
    assert not thin, f"too few vectors for: {thin}"

    checked = subprocess.run([checker(), str(vectors)], capture_output=True, text=True,
                             timeout=120)
    summary = checked.stdout.strip().splitlines()[-1] if checked.stdout.strip() else ""
    assert checked.returncode == 0, checked.stdout[-8000:] + checked.stderr
    assert re.fullmatch(rf"{sum(counts.values())} passed, 0 failed", summary), summary
