"""Fixtures and helpers shared by the tern-broker tests in this folder: a broker per test or per
module (harness/tern.py), topic creation, reading partitions back whole with confluent-kafka,
reading segment files directly, Kafka's CLI tools, and __consumer_offsets as Kafka's
OffsetsMessageFormatter prints it.

Test modules import the fixtures they use: `from tern_fixtures import tern, tern_module`.
"""

from __future__ import annotations

import json
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import paths
from harness.tern import TernBroker

OFFSETS_TOPIC = "__consumer_offsets"
OFFSETS_PARTITIONS = 50


@pytest.fixture
def tern(tmp_path) -> TernBroker:
    """A tern-broker of its own for one test."""
    broker = TernBroker(tmp_path / "tern").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def tern_module(tmp_path_factory) -> TernBroker:
    """A tern-broker shared by the tests of one module; topics keep tests apart."""
    broker = TernBroker(tmp_path_factory.mktemp("tern")).start()
    yield broker
    broker.stop()


@dataclass(frozen=True)
class Rec:
    """One record as a consumer saw it, or as a test expects it."""
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp: int | None = None  # create time; None when the test does not check it


def create_topic(bootstrap: str, name: str, partitions: int = 1,
                 config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                                  operation_timeout=30)
    futures[name].result(timeout=30)


def producer(bootstrap: str, **conf) -> Producer:
    """A confluent-kafka producer with acks=all and librdkafka's defaults otherwise (idempotence
    off unless `enable_idempotence=True` is given)."""
    settings = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5}
    settings.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(settings)


def produce_all(p: Producer, topic: str, records: list[Rec]) -> list[tuple[int, int]]:
    """Produces `records` (partition, key, value, headers, timestamp as given) and returns the
    (partition, offset) of each from its delivery report; fails on any delivery error."""
    reports: list[tuple[int, int] | None] = [None] * len(records)
    errors = []

    def report(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                reports[i] = (msg.partition(), msg.offset())
        return on_delivery

    for i, r in enumerate(records):
        kwargs = {"partition": r.partition, "key": r.key, "value": r.value,
                  "headers": list(r.headers) if r.headers else None, "on_delivery": report(i)}
        if r.timestamp is not None:
            kwargs["timestamp"] = r.timestamp
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    assert left == 0, f"{left} records still undelivered after 60 s"
    assert not errors, f"delivery errors: {errors[:5]}"
    return reports


def consumer(bootstrap: str, **conf) -> Consumer:
    settings = {"bootstrap.servers": bootstrap, "group.id": "tern-tests-unused",
                "enable.auto.commit": False, "enable.partition.eof": True,
                "auto.offset.reset": "error"}
    settings.update({k.replace("_", "."): v for k, v in conf.items()})
    return Consumer(settings)


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> list[int]:
    c = consumer(bootstrap)
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in range(partitions)]
    finally:
        c.close()


def consume_all(bootstrap: str, topic: str, partitions: int | list[int], timeout: float = 60,
                with_timestamps: bool = True, **conf) -> dict[int, list[Rec]]:
    """Every record of the partitions (a count: 0..n-1, or a list) from offset 0 up to the high
    watermark each had when reading began, in one pass with one assign-mode consumer."""
    wanted = list(range(partitions)) if isinstance(partitions, int) else partitions
    c = consumer(bootstrap)
    try:
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in wanted}
    finally:
        c.close()
    out: dict[int, list[Rec]] = {p: [] for p in wanted}
    pending = {p for p in wanted if ends[p] > 0}
    c = consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in pending])
        import time
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=1.0):
                err = m.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, f"consumer error: {err}"
                    continue
                p = m.partition()
                if p not in pending:
                    continue
                ts_type, ts = m.timestamp()
                out[p].append(Rec(p, m.offset(), m.key(), m.value(), tuple(m.headers() or ()),
                                  ts if with_timestamps else None))
                if m.offset() + 1 >= ends[p]:
                    pending.discard(p)
        assert not pending, (f"partitions {sorted(pending)} of {topic} not read up to "
                             f"{[ends[p] for p in sorted(pending)]} within {timeout} s")
    finally:
        c.close()
    return out


def assert_same_records(got: dict[int, list[Rec]], expected: list[Rec]) -> None:
    """Partition by partition: the same records in the same order at the same offsets, and
    offsets gap-free from 0."""
    want: dict[int, list[Rec]] = {}
    for r in expected:
        want.setdefault(r.partition, []).append(r)
    for p, recs in want.items():
        assert [r.offset for r in recs] == list(range(len(recs))), \
            f"expected offsets of partition {p} are not 0..{len(recs) - 1}"
        seen = got.get(p, [])
        assert len(seen) == len(recs), f"partition {p}: read {len(seen)} records, expected {len(recs)}"
        for a, b in zip(seen, recs):
            if b.timestamp is None:
                a = Rec(a.partition, a.offset, a.key, a.value, a.headers, None)
            assert a == b, f"partition {p} offset {b.offset}: read {a}, expected {b}"
    extra = {p: len(v) for p, v in got.items() if p not in want and v}
    assert not extra, f"records in partitions nothing was written to: {extra}"


# --- segment files ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchOnDisk:
    position: int      # byte position in the .log file
    size: int          # whole batch, log overhead included
    base_offset: int
    last_offset: int
    codec: int         # attributes & 7
    max_timestamp: int
    producer_id: int = -1
    producer_epoch: int = -1
    base_sequence: int = -1


def segment_files(data_dir: Path, topic: str, partition: int) -> list[Path]:
    return sorted((data_dir / f"{topic}-{partition}").glob("*.log"))


def batches_in(log_file: Path) -> list[BatchOnDisk]:
    """The batches of a segment file, by their framing (no CRC check)."""
    data = log_file.read_bytes()
    out, pos = [], 0
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        attributes, last_delta, _first_ts, max_ts, pid, epoch, sequence = struct.unpack_from(
            ">hiqqqhi", data, pos + 21)
        size = 12 + length
        if pos + size > len(data):
            break
        out.append(BatchOnDisk(pos, size, base, base + last_delta, attributes & 7, max_ts, pid,
                               epoch, sequence))
        pos += size
    return out


# --- Kafka's tools and __consumer_offsets ------------------------------------------------------

def java_hash(s: str) -> int:
    """Java's String.hashCode: over UTF-16 code units, in int32 arithmetic."""
    data = s.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group: str, partitions: int = OFFSETS_PARTITIONS) -> int:
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def tool(name: str, *args: str, check: bool = True, timeout: float = 120) -> str:
    """Runs one of Kafka's CLI tools; returns stdout and stderr together."""
    result = subprocess.run([str(paths.kafka_tool(name)), *args], capture_output=True,
                            text=True, timeout=timeout)
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, \
            f"{name} {' '.join(args)} exited {result.returncode}\n{output}"
    return output


def formatted_records(output: str, group: str) -> list[dict]:
    """The records of `group` printed by OffsetsMessageFormatter, which writes JSON objects one
    after another (with no separator in Kafka 4.4)."""
    decoder, out = json.JSONDecoder(), []
    for line in output.splitlines():
        pos = 0
        while line.startswith("{", pos):
            record, pos = decoder.raw_decode(line, pos)
            if json.dumps(record).find(f'"{group}"') >= 0:
                out.append(record)
    return out


def read_offsets_partition(broker, group: str, formatter: str = "OffsetsMessageFormatter",
                           timeout_ms: int = 10000) -> str:
    """kafka-console-consumer with one of Kafka's formatters of __consumer_offsets
    (OffsetsMessageFormatter: committed offsets; GroupMetadataMessageFormatter: group
    metadata) over the one partition of the topic that Kafka would put `group` in, until no
    record came for `timeout_ms`."""
    return tool("kafka-console-consumer", "--bootstrap-server", broker.bootstrap,
                "--topic", OFFSETS_TOPIC, "--partition", str(partition_for(group)),
                "--offset", "earliest", "--timeout-ms", str(timeout_ms),
                "--formatter", f"org.apache.kafka.tools.consumer.{formatter}", check=False)
