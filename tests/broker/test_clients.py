"""Real Kafka clients against tern-broker: librdkafka (confluent-kafka, kcat), kafka-python and
Java's console producer and consumer produce and read records with keys, headers and every
codec, byte-exact, across clients; a bulk pass; Fetch long polling; ListOffsets.

Consumers run in assign mode: tern-broker serves no consumer groups yet. Producers run with
each client's default idempotence setting (on for kafka-python and Java, off for librdkafka);
test_idempotence.py covers idempotence itself.
"""

from __future__ import annotations

import select
import subprocess
import time

import pytest
from confluent_kafka import TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.codec import has_lz4, has_snappy, has_zstd

import kafka_wire as wire
from harness import paths
from tern_fixtures import (Rec, assert_same_records, batches_in, consume_all, consumer,
                           create_topic, produce_all, producer, segment_files, tern_module)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CODEC_ID = {name: i for i, name in enumerate(CODECS)}
BASE_TS = 1_700_000_000_000

__all__ = ["tern_module"]  # the fixture, imported for pytest


def binary_records(partitions: int, count: int, salt: str) -> list[Rec]:
    """Records that exercise the encoding: null and empty keys and values, every byte value,
    repeated and null header values, timestamps out of order; values compress well."""
    out, next_offset = [], [0] * partitions
    for i in range(count):
        p = i % partitions
        key = None if i % 11 == 0 else b"" if i % 13 == 0 else f"{salt}-key-{i}".encode() + bytes([i % 256])
        value = (None if i % 17 == 0 else b"" if i % 19 == 0
                 else bytes(range(256)) + (f"{salt} value {i} " * (1 + i % 7)).encode())
        headers = () if i % 5 == 0 else (("trace", f"t{i}".encode()), ("dup", b"\x00\xff"),
                                         ("dup", b"second"), ("nil", None))
        timestamp = BASE_TS + i * 10 - (500 if i % 9 == 0 else 0)
        out.append(Rec(p, next_offset[p], key, value, headers, timestamp))
        next_offset[p] += 1
    return out


def stored_codecs(broker, topic: str, partitions: int) -> set[int]:
    return {b.codec for p in range(partitions)
            for f in segment_files(broker.data_dir, topic, p) for b in batches_in(f)}


@pytest.mark.parametrize("codec", CODECS)
def test_confluent_kafka_round_trip(tern_module, codec):
    topic = f"ck-{codec}"
    create_topic(tern_module.bootstrap, topic, partitions=3)
    records = binary_records(3, 600, codec)
    p = producer(tern_module.bootstrap, compression_type=codec, linger_ms=20)
    reports = produce_all(p, topic, records)
    assert reports == [(r.partition, r.offset) for r in records]
    assert_same_records(consume_all(tern_module.bootstrap, topic, 3), records)
    assert stored_codecs(tern_module, topic, 3) == {CODEC_ID[codec]}


def kafka_python_codecs_present(codec: str) -> None:
    have = {"none": True, "gzip": True, "snappy": has_snappy(), "lz4": has_lz4(), "zstd": has_zstd()}
    assert have[codec], (f"kafka-python cannot use {codec} in this venv: add python-snappy, lz4 "
                         f"and zstandard to tests/requirements.txt")


def kafka_python_read(bootstrap: str, topic: str, partitions: int, count: int) -> dict[int, list[Rec]]:
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      consumer_timeout_ms=30000)
    try:
        c.assign([KpTopicPartition(topic, p) for p in range(partitions)])
        c.seek_to_beginning()
        out: dict[int, list[Rec]] = {p: [] for p in range(partitions)}
        n = 0
        for m in c:
            assert m.timestamp_type == 0, f"timestamp type {m.timestamp_type} at {m}"
            out[m.partition].append(Rec(m.partition, m.offset, m.key, m.value,
                                        tuple((k, v) for k, v in m.headers), m.timestamp))
            n += 1
            if n == count:
                break
        return out
    finally:
        c.close()


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_round_trip(tern_module, codec):
    kafka_python_codecs_present(codec)
    topic = f"kp-{codec}"
    create_topic(tern_module.bootstrap, topic, partitions=2)
    # kafka-python refuses a record whose key and value are both null, and null header values.
    records = [Rec(r.partition, r.offset, r.key, b"" if r.key is None and r.value is None else r.value,
                   tuple(h for h in r.headers if h[1] is not None), r.timestamp)
               for r in binary_records(2, 300, "kp" + codec)]
    p = KafkaProducer(bootstrap_servers=tern_module.bootstrap, acks="all", linger_ms=20,
                      compression_type=None if codec == "none" else codec)
    try:
        futures = [p.send(topic, key=r.key, value=r.value, partition=r.partition,
                          headers=list(r.headers), timestamp_ms=r.timestamp) for r in records]
        p.flush(60)
        got = [(f.get(timeout=60).partition, f.get(timeout=60).offset) for f in futures]
    finally:
        p.close()
    assert got == [(r.partition, r.offset) for r in records]
    assert_same_records(kafka_python_read(tern_module.bootstrap, topic, 2, len(records)), records)
    assert stored_codecs(tern_module, topic, 2) == {CODEC_ID[codec]}


# --- every client reads what every client wrote -----------------------------------------------
# One single-partition topic; each producer client appends one group of text records per codec
# (console tools read and print lines, so keys, values and headers are printable UTF-8 without
# tabs, commas or newlines). Then every consumer client reads the partition once.

def text_group(client: str, codec: str, n: int = 7) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(key, value) pairs and the headers of one group."""
    pairs = [(f"{client}.{codec}.k{i}", f"{client} {codec} value {i} ünïcødé " + "x" * (i * 40))
             for i in range(n)]
    headers = [("producer", client), ("codec", codec)]
    return pairs, headers


def java_tool(name: str, *args: str, input: str | None = None) -> str:
    result = subprocess.run([str(paths.kafka_tool(name)), *args], input=input, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def write_group(bootstrap: str, topic: str, client: str, codec: str, ts: int) -> None:
    pairs, headers = text_group(client, codec)
    if client == "confluent-kafka":
        p = producer(bootstrap, compression_type=codec, linger_ms=50)
        produce_all(p, topic, [Rec(0, 0, k.encode(), v.encode(),
                                   tuple((hk, hv.encode()) for hk, hv in headers), ts + i)
                               for i, (k, v) in enumerate(pairs)])
    elif client == "kafka-python":
        p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50,
                          compression_type=None if codec == "none" else codec)
        try:
            futures = [p.send(topic, partition=0, key=k.encode(), value=v.encode(),
                              headers=[(hk, hv.encode()) for hk, hv in headers], timestamp_ms=ts + i)
                       for i, (k, v) in enumerate(pairs)]
            p.flush(60)
            for f in futures:
                f.get(timeout=60)
        finally:
            p.close()
    elif client == "kcat":
        args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-p", "0", "-z", codec, "-K", "\t",
                "-X", "linger.ms=50"]
        for hk, hv in headers:
            args += ["-H", f"{hk}={hv}"]
        result = subprocess.run(args, input="".join(f"{k}\t{v}\n" for k, v in pairs).encode(),
                                capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr.decode()
    elif client == "java":
        java_tool("kafka-console-producer", "--bootstrap-server", bootstrap, "--topic", topic,
                  "--compression-codec", codec, "--sync",
                  "--command-property", "acks=all",
                  "--reader-property", "parse.key=true", "--reader-property", "parse.headers=true",
                  input="".join(",".join(f"{hk}:{hv}" for hk, hv in headers) + f"\t{k}\t{v}\n"
                                for k, v in pairs))
    else:
        raise AssertionError(client)


def read_confluent_kafka(bootstrap, topic, count):
    return [(r.offset, r.key.decode(), r.value.decode(),
             tuple((k, v.decode()) for k, v in r.headers), r.timestamp)
            for r in consume_all(bootstrap, topic, 1)[0]]


def read_kafka_python(bootstrap, topic, count):
    return [(r.offset, r.key.decode(), r.value.decode(),
             tuple((k, v.decode()) for k, v in r.headers), r.timestamp)
            for r in kafka_python_read(bootstrap, topic, 1, count)[0]]


def read_kcat(bootstrap, topic, count):
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning",
                          "-e", "-q", "-f", "%o\t%T\t%k\t%s\t%h\n"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    rows = []
    for line in out.stdout.decode().splitlines():
        offset, ts, key, value, headers = line.split("\t")
        rows.append((int(offset), key, value,
                     tuple(tuple(h.split("=", 1)) for h in headers.split(",") if h), int(ts)))
    return rows


def read_java(bootstrap, topic, count):
    text = java_tool("kafka-console-consumer", "--bootstrap-server", bootstrap, "--topic", topic,
                     "--partition", "0", "--offset", "earliest", "--max-messages", str(count),
                     "--timeout-ms", "30000",
                     "--formatter-property", "print.key=true",
                     "--formatter-property", "print.headers=true",
                     "--formatter-property", "print.offset=true",
                     "--formatter-property", "print.timestamp=true")
    rows = []
    for line in text.splitlines():
        ts, offset, headers, key, value = line.split("\t")
        assert ts.startswith("CreateTime:"), line
        rows.append((int(offset.removeprefix("Offset:")), key, value,
                     tuple(tuple(h.split(":", 1)) for h in headers.split(",") if h),
                     int(ts.removeprefix("CreateTime:"))))
    return rows


PRODUCERS = ["confluent-kafka", "kafka-python", "kcat", "java"]
READERS = {"confluent-kafka": read_confluent_kafka, "kafka-python": read_kafka_python,
           "kcat": read_kcat, "java": read_java}


def test_every_client_reads_what_every_client_wrote(tern_module):
    for codec in CODECS:
        kafka_python_codecs_present(codec)
    bootstrap, topic = tern_module.bootstrap, "cross-clients"
    create_topic(bootstrap, topic, partitions=1)
    expected, group_of_offset = [], []
    for g, (client, codec) in enumerate((c, z) for c in PRODUCERS for z in CODECS):
        ts = BASE_TS + g * 1000
        before = int(time.time() * 1000)
        write_group(bootstrap, topic, client, codec, ts)
        after = int(time.time() * 1000)
        pairs, headers = text_group(client, codec)
        for i, (k, v) in enumerate(pairs):
            # Clients that cannot set a timestamp stamp the send time.
            stamp = ts + i if client in ("confluent-kafka", "kafka-python") else (before, after)
            expected.append((len(expected), k, v, tuple(headers), stamp))
            group_of_offset.append(codec)

    reference = read_confluent_kafka(bootstrap, topic, len(expected))
    assert len(reference) == len(expected)
    for got, want in zip(reference, expected):
        if isinstance(want[4], tuple):
            lo, hi = want[4]
            assert lo <= got[4] <= hi, f"timestamp of {got} is outside the send window {want[4]}"
            want = want[:4] + (got[4],)
        assert got == want
    for name, read in READERS.items():
        assert read(bootstrap, topic, len(expected)) == reference, f"{name} read something else"

    # Every batch stored carries the codec its producer was asked for.
    wrong = []
    for f in segment_files(tern_module.data_dir, topic, 0):
        for b in batches_in(f):
            for offset in range(b.base_offset, b.last_offset + 1):
                if CODEC_ID[group_of_offset[offset]] != b.codec:
                    wrong.append((offset, expected[offset][1], CODECS[b.codec]))
    assert not wrong, f"records stored with another codec than asked for: (offset, key, stored) {wrong}"


def test_bulk_100k_records_with_keys_and_headers(tern_module):
    bootstrap, topic, partitions, count = tern_module.bootstrap, "bulk", 4, 100_000
    create_topic(bootstrap, topic, partitions=partitions)

    def key(i):
        return b"key-%08d" % i

    def value(i):
        return b"%d:" % i + bytes([i % 251]) * (i % 97)

    def headers(i):
        return [("n", b"%d" % i), ("p", bytes([i % 4]))]

    p = producer(bootstrap, compression_type="lz4", linger_ms=50, batch_num_messages=10000,
                 queue_buffering_max_messages=200000)
    failures = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(err)

    for i in range(count):
        while True:
            try:
                p.produce(topic, key=key(i), value=value(i), headers=headers(i),
                          partition=i % partitions, timestamp=BASE_TS + i, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(120) == 0
    assert not failures, failures[:5]

    c = consumer(bootstrap)
    next_offset = [0] * partitions
    try:
        c.assign([TopicPartition(topic, q, 0) for q in range(partitions)])
        seen = 0
        deadline = time.monotonic() + 120
        while seen < count and time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=1.0):
                if m.error() is not None:
                    continue
                q, offset = m.partition(), m.offset()
                assert offset == next_offset[q], f"partition {q}: offset {offset}, expected {next_offset[q]}"
                i = offset * partitions + q
                assert (m.key(), m.value(), m.headers(), m.timestamp()) == \
                    (key(i), value(i), headers(i), (1, BASE_TS + i)), f"record {i} differs"
                next_offset[q] += 1
                seen += 1
    finally:
        c.close()
    assert next_offset == [count // partitions] * partitions


def test_fetch_long_poll_returns_data_produced_while_waiting(tern_module):
    bootstrap, topic = tern_module.bootstrap, "long-poll"
    create_topic(bootstrap, topic, partitions=1)
    with wire.Connection(bootstrap) as conn:
        # With nothing to read, a short wait ends with an empty answer.
        empty = wire.parse_fetch(conn.request(wire.FETCH, 4, wire.fetch_body(topic, 0, 0, 200)))
        assert empty[(topic, 0)].error == wire.NONE and empty[(topic, 0)].records == []

        cid = conn.send(wire.FETCH, 4, wire.fetch_body(topic, 0, 0, max_wait_ms=60000))
        time.sleep(1.0)
        readable, _, _ = select.select([conn.sock], [], [], 0)
        assert not readable, "the fetch was answered before any data existed: no long poll"
        produce_all(producer(bootstrap), topic, [Rec(0, 0, b"k", b"arrived while waiting")])
        fetched = wire.parse_fetch(conn.receive(cid))[(topic, 0)]
    assert fetched.error == wire.NONE
    assert fetched.records == [(0, b"k", b"arrived while waiting")]
    assert fetched.high_watermark == 1


def produce_batches(bootstrap, topic, batches: list[list[int]]) -> None:
    """One batch per inner list (flush between), with those timestamps. The linger is far
    longer than producing a list takes, so only the flush sends a batch (with 100 ms, a loaded
    machine once sent a list's first record alone)."""
    p = producer(bootstrap, linger_ms=10000)
    offset = 0
    for stamps in batches:
        produce_all(p, topic, [Rec(0, offset + i, b"k", b"v%d" % (offset + i), (), ts)
                               for i, ts in enumerate(stamps)])
        offset += len(stamps)


def test_list_offsets_earliest_latest_and_batch_starts(tern_module):
    bootstrap, topic = tern_module.bootstrap, "list-offsets"
    create_topic(bootstrap, topic, partitions=1)
    c = consumer(bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30) == (0, 0)
        produce_batches(bootstrap, topic, [[BASE_TS + 100 * b + i for i in range(4)] for b in range(3)])
        assert [b.base_offset for b in batches_in(segment_files(tern_module.data_dir, topic, 0)[0])] \
            == [0, 4, 8], "the records were not stored as three batches of four"
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30) == (0, 12)
        # Timestamps at or before each batch's first record find that record.
        for ts, offset in [(0, 0), (BASE_TS, 0), (BASE_TS + 50, 4), (BASE_TS + 100, 4),
                           (BASE_TS + 200, 8)]:
            got = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=30)[0]
            assert got.error is None and got.offset == offset, f"timestamp {ts}: {got}"
        # Past the newest timestamp there is no such offset: the end (-1).
        got = c.offsets_for_times([TopicPartition(topic, 0, BASE_TS + 1000)], timeout=30)[0]
        assert got.error is None and got.offset == -1, got
    finally:
        c.close()
    with wire.Connection(bootstrap) as conn:
        for ts, offset in [(-2, 0), (-1, 12), (BASE_TS + 100, 4)]:
            answer = wire.parse_list_offsets(conn.request(
                wire.LIST_OFFSETS, 1, wire.list_offsets_body(topic, 0, ts)))
            assert answer[(topic, 0)][0] == wire.NONE and answer[(topic, 0)][2] == offset, \
                f"ListOffsets {ts}: {answer}"


def test_offsets_for_times_finds_the_first_record_inside_a_batch(tern_module):
    """Kafka's contract (KafkaConsumer.offsetsForTimes, ListOffsets): the earliest offset whose
    timestamp is at or after the one asked for, record by record, even inside a batch."""
    bootstrap, topic = tern_module.bootstrap, "offsets-for-times"
    create_topic(bootstrap, topic, partitions=1)
    stamps = [BASE_TS + 10 * i for i in range(8)]
    produce_batches(bootstrap, topic, [stamps])
    assert len(batches_in(segment_files(tern_module.data_dir, topic, 0)[0])) == 1
    c = consumer(bootstrap)
    try:
        found = {}
        for i, ts in enumerate(stamps):
            got = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=30)[0]
            found[ts] = got.offset
        assert found == {ts: i for i, ts in enumerate(stamps)}
    finally:
        c.close()
    # The timestamp answered is that of the record found, not the batch's largest.
    with wire.Connection(bootstrap) as conn:
        answer = wire.parse_list_offsets(conn.request(
            wire.LIST_OFFSETS, 1, wire.list_offsets_body(topic, 0, stamps[0])))
    assert answer[(topic, 0)] == (wire.NONE, stamps[0], 0)
