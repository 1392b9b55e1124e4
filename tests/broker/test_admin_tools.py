"""Apache Kafka's admin tools (kafka-topics, kafka-configs, kafka-delete-records, the cluster
tool) and confluent-kafka's AdminClient against tern-broker: topics grown, described, paged and
deleted; topic configs altered (whole, incrementally, list append/subtract), described and
felt by storage; broker configs described and refused; records deleted; the cluster described.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions)

from harness import paths
from tern_fixtures import (Rec, consumer, create_topic, produce_all, producer, segment_files,
                           tern_module)

__all__ = ["tern_module"]  # the fixture, imported for pytest

TOPIC_CONFIG, DEFAULT_CONFIG, STATIC_BROKER_CONFIG = 1, 5, 4


def tool(name: str, *args: str, check: bool = True) -> str:
    """Runs one of Kafka's CLI tools; returns stdout and stderr together."""
    result = subprocess.run([str(paths.kafka_tool(name)), *args], capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, \
            f"{name} {' '.join(args)} exited {result.returncode}\n{output}"
    else:
        assert result.returncode != 0, f"{name} {' '.join(args)} succeeded\n{output}"
    return output


def admin(broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def topic_configs(broker, topic: str) -> dict:
    resource, client = ConfigResource("TOPIC", topic), admin(broker)  # alive until answered
    return client.describe_configs([resource])[resource].result(timeout=30)


def kafka_error(future) -> KafkaError:
    with pytest.raises(KafkaException) as failure:
        future.result(timeout=30)
    return failure.value.args[0]


def earliest_and_latest(broker, topic: str, partition: int = 0) -> tuple[int, int]:
    """ListOffsets -2 and -1, as a consumer asks for them."""
    c = consumer(broker.bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
    finally:
        c.close()


def produce_values(broker, topic: str, values: list[bytes], partition: int = 0, **conf):
    records = [Rec(partition, i, None, v) for i, v in enumerate(values)]
    return produce_all(producer(broker.bootstrap, **conf), topic, records)


# --- kafka-topics -----------------------------------------------------------------------------

def test_kafka_topics_grows_describes_and_deletes_a_topic(tern_module):
    b = ["--bootstrap-server", tern_module.bootstrap]
    tool("kafka-topics", *b, "--create", "--topic", "tools-grow", "--partitions", "2")
    tool("kafka-topics", *b, "--alter", "--topic", "tools-grow", "--partitions", "4")

    described = tool("kafka-topics", *b, "--describe", "--topic", "tools-grow")
    assert "PartitionCount: 4" in described
    for p in range(4):
        assert f"Partition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1" in described, described

    shrink = tool("kafka-topics", *b, "--alter", "--topic", "tools-grow", "--partitions", "3",
                  check=False)
    assert "InvalidPartitionsException" in shrink and "would not be an increase" in shrink

    # A partition added later takes records like the first ones.
    assert produce_values(tern_module, "tools-grow", [b"late"], partition=3) == [(3, 0)]
    assert earliest_and_latest(tern_module, "tools-grow", 3) == (0, 1)

    assert "tools-grow" in tool("kafka-topics", *b, "--list").split()
    tool("kafka-topics", *b, "--delete", "--topic", "tools-grow")
    assert "tools-grow" not in tool("kafka-topics", *b, "--list").split()


def test_create_partitions_refuses_what_kafka_refuses(tern_module):
    create_topic(tern_module.bootstrap, "tools-partitions", 2)
    a = admin(tern_module)

    def grow(*wanted, validate_only=False):
        return a.create_partitions(list(wanted), validate_only=validate_only)

    same = grow(NewPartitions("tools-partitions", 2))["tools-partitions"]
    assert kafka_error(same).code() == KafkaError.INVALID_PARTITIONS
    elsewhere = grow(NewPartitions("tools-partitions", 3, [[2]]))["tools-partitions"]
    assert kafka_error(elsewhere).code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    missing = grow(NewPartitions("tools-no-such-topic", 3))["tools-no-such-topic"]
    assert kafka_error(missing).code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    grow(NewPartitions("tools-partitions", 5), validate_only=True)["tools-partitions"].result(30)
    grow(NewPartitions("tools-partitions", 3, [[1]]))["tools-partitions"].result(30)
    metadata = a.list_topics("tools-partitions", timeout=30)
    assert sorted(metadata.topics["tools-partitions"].partitions) == [0, 1, 2]


# --- DescribeTopicPartitions paging -----------------------------------------------------------

def _uvarint(n: int) -> bytes:
    out = b""
    while True:
        if n < 0x80:
            return out + bytes([n])
        out += bytes([n & 0x7F | 0x80])
        n >>= 7


def _compact_string(s: str) -> bytes:
    return _uvarint(len(s.encode()) + 1) + s.encode()


class _Flex:
    """Reads the flexible (compact) encoding of a response body."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def int(self, fmt: str) -> int:
        return struct.unpack(">" + fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self) -> int:
        n = shift = 0
        while True:
            byte = self.take(1)[0]
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return n

    def string(self) -> str | None:
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def array(self, item):
        n = self.uvarint() - 1
        return None if n < 0 else [item() for _ in range(n)]

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def flexible_call(bootstrap: str, api_key: int, version: int, body: bytes) -> _Flex:
    """One request with header v2; returns a reader positioned on the response body."""
    request = struct.pack(">hhih", api_key, version, 7, 5) + b"tests" + b"\0" + body
    host, port = bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = s.recv(65536)
            assert chunk, "connection closed before the whole response"
            data += chunk
    r = _Flex(data[4:])
    assert r.int("i") == 7
    r.tags()
    return r


def describe_topic_partitions(bootstrap: str, topics: list[str], limit: int,
                              cursor: tuple[str, int] | None = None):
    """DescribeTopicPartitions v0: [(topic, error, [partition indexes])] and the next cursor."""
    body = _uvarint(len(topics) + 1) + b"".join(_compact_string(t) + b"\0" for t in topics)
    body += struct.pack(">i", limit)
    body += (b"\xff" if cursor is None
             else b"\x01" + _compact_string(cursor[0]) + struct.pack(">i", cursor[1]) + b"\0")
    r = flexible_call(bootstrap, 75, 0, body + b"\0")
    r.int("i")  # throttle

    def partition():
        error, index = r.int("h"), r.int("i")
        leader, _epoch = r.int("i"), r.int("i")
        replicas, isr = r.array(lambda: r.int("i")), r.array(lambda: r.int("i"))
        for _ in range(3):
            r.array(lambda: r.int("i"))
        r.tags()
        assert (error, leader, replicas, isr) == (0, 1, [1], [1])
        return index

    def topic():
        error, name = r.int("h"), r.string()
        r.take(17)  # topic id, is_internal
        parts = r.array(partition)
        r.int("i")
        r.tags()
        return name, error, parts

    topics_out = r.array(topic)
    next_cursor = None
    if r.int("b") >= 0:
        next_cursor = (r.string(), r.int("i"))
        r.tags()
    return topics_out, next_cursor


def test_describe_topic_partitions_pages_by_cursor(tern_module):
    bootstrap = tern_module.bootstrap
    create_topic(bootstrap, "tools-page-a", 5)
    create_topic(bootstrap, "tools-page-b", 1)
    named = ["tools-page-b", "tools-page-a", "tools-page-none"]

    first, cursor = describe_topic_partitions(bootstrap, named, 3)
    assert first == [("tools-page-a", 0, [0, 1, 2])] and cursor == ("tools-page-a", 3)
    second, cursor = describe_topic_partitions(bootstrap, named, 3, cursor)
    assert second == [("tools-page-a", 0, [3, 4]), ("tools-page-b", 0, [0])]
    assert cursor == ("tools-page-none", 0)
    third, cursor = describe_topic_partitions(bootstrap, named, 3, cursor)
    assert third == [("tools-page-none", 3, [])] and cursor is None

    # kafka-topics follows the cursors itself and prints every partition.
    described = tool("kafka-topics", "--bootstrap-server", bootstrap, "--describe", "--topic",
                     "tools-page-a", "--partition-size-limit-per-response", "2")
    assert [f"Partition: {p}\t" in described for p in range(5)] == [True] * 5, described


# --- kafka-configs and the config APIs --------------------------------------------------------

def test_kafka_configs_alters_and_describes_topic_configs(tern_module):
    create_topic(tern_module.bootstrap, "tools-configs")
    b = ["--bootstrap-server", tern_module.bootstrap, "--entity-type", "topics",
         "--entity-name", "tools-configs"]
    tool("kafka-configs", *b, "--alter", "--add-config",
         "retention.ms=1000,cleanup.policy=[compact,delete]")

    described = tool("kafka-configs", *b, "--describe")
    assert "retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000" \
        in described, described
    assert "cleanup.policy=compact,delete" in described
    configs = topic_configs(tern_module, "tools-configs")
    assert (configs["retention.ms"].value, configs["retention.ms"].source) == ("1000", TOPIC_CONFIG)
    assert configs["segment.bytes"].source == DEFAULT_CONFIG
    assert not configs["retention.ms"].is_read_only

    tool("kafka-configs", *b, "--alter", "--delete-config", "retention.ms")
    configs = topic_configs(tern_module, "tools-configs")
    assert (configs["retention.ms"].value, configs["retention.ms"].source) == \
        ("604800000", DEFAULT_CONFIG)
    assert configs["cleanup.policy"].value == "compact,delete"

    bad = tool("kafka-configs", *b, "--alter", "--add-config", "segment.bytes=lots", check=False)
    assert "InvalidConfigurationException" in bad and "segment.bytes" in bad

    a = admin(tern_module)
    missing = a.describe_configs([ConfigResource("TOPIC", "tools-none")])
    assert kafka_error(next(iter(missing.values()))).code() == KafkaError.UNKNOWN_TOPIC_OR_PART


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated")
def test_topic_configs_reach_storage(tern_module):
    topic = "tools-storage"
    create_topic(tern_module.bootstrap, topic)
    a = admin(tern_module)
    small = ConfigResource("TOPIC", topic, incremental_configs=[
        ConfigEntry("segment.bytes", "1024", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("max.message.bytes", "2048", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([small])[small].result(timeout=30)

    # Small segments: the log rolls; small batches: a large record is refused.
    p = producer(tern_module.bootstrap)
    for i in range(12):  # one batch each
        produce_all(p, topic, [Rec(0, i, None, bytes([i]) * 300)])
    assert len(segment_files(tern_module.data_dir, topic, 0)) > 2
    with pytest.raises(AssertionError, match="MSG_SIZE_TOO_LARGE"):
        produce_values(tern_module, topic, [b"x" * 4000])

    # AlterConfigs replaces the whole set: what it does not name is back to the default.
    whole = ConfigResource("TOPIC", topic, set_config={"retention.ms": "86400000"})
    a.alter_configs([whole])[whole].result(timeout=30)
    configs = topic_configs(tern_module, topic)
    assert configs["max.message.bytes"].source == DEFAULT_CONFIG
    assert configs["retention.ms"].value == "86400000"
    assert produce_values(tern_module, topic, [b"x" * 4000]) == [(0, 12)]


def test_incremental_alter_configs_appends_and_subtracts_lists(tern_module):
    topic = "tools-lists"
    create_topic(tern_module.bootstrap, topic)
    a = admin(tern_module)

    def change(*ops, validate_only=False):
        resource = ConfigResource("TOPIC", topic, incremental_configs=list(ops))
        return a.incremental_alter_configs([resource], validate_only=validate_only)[resource]

    def op(name, value, kind):
        return ConfigEntry(name, value, incremental_operation=kind)

    change(op("cleanup.policy", "compact", AlterConfigOpType.APPEND)).result(timeout=30)
    assert topic_configs(tern_module, topic)["cleanup.policy"].value == "delete,compact"
    change(op("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT)).result(timeout=30)
    assert topic_configs(tern_module, topic)["cleanup.policy"].value == "compact"

    not_a_list = change(op("retention.ms", "5", AlterConfigOpType.APPEND))
    assert kafka_error(not_a_list).code() == KafkaError.INVALID_CONFIG
    change(op("retention.ms", "5", AlterConfigOpType.SET), validate_only=True).result(timeout=30)
    assert topic_configs(tern_module, topic)["retention.ms"].source == DEFAULT_CONFIG
    # All or nothing: the valid SET beside an invalid one is not applied either.
    mixed = change(op("retention.ms", "5", AlterConfigOpType.SET),
                   op("segment.ms", "soon", AlterConfigOpType.SET))
    assert kafka_error(mixed).code() == KafkaError.INVALID_CONFIG
    assert topic_configs(tern_module, topic)["retention.ms"].source == DEFAULT_CONFIG


def test_broker_configs_are_described_and_static(tern_module):
    described = tool("kafka-configs", "--bootstrap-server", tern_module.bootstrap,
                     "--entity-type", "brokers", "--entity-name", "1", "--describe", "--all")
    assert "node.id=1 sensitive=false synonyms={STATIC_BROKER_CONFIG:node.id=1}" in described
    assert f"log.dirs={tern_module.data_dir} " in described
    assert f"listeners=PLAINTEXT://{tern_module.bootstrap} " in described
    assert "num.partitions=1 sensitive=false synonyms={DEFAULT_CONFIG:num.partitions=1}" \
        in described

    a = admin(tern_module)
    resource = ConfigResource("BROKER", "1")
    configs = a.describe_configs([resource])[resource].result(timeout=30)
    assert configs["log.retention.ms"].is_read_only
    assert configs["log.dirs"].source == STATIC_BROKER_CONFIG

    change = ConfigResource("BROKER", "1", incremental_configs=[ConfigEntry(
        "log.retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    refused = kafka_error(a.incremental_alter_configs([change])[change])
    assert refused.code() == KafkaError.INVALID_REQUEST and "static" in refused.str()


# --- kafka-delete-records ---------------------------------------------------------------------

def test_delete_records_moves_the_earliest_offset(tern_module, tmp_path):
    topic = "tools-delete-records"
    create_topic(tern_module.bootstrap, topic)
    produce_values(tern_module, topic, [f"v{i}".encode() for i in range(10)])

    offsets = tmp_path / "offsets.json"
    offsets.write_text(json.dumps(
        {"version": 1, "partitions": [{"topic": topic, "partition": 0, "offset": 4}]}))
    out = tool("kafka-delete-records", "--bootstrap-server", tern_module.bootstrap,
               "--offset-json-file", str(offsets))
    assert f"partition: {topic}-0\tlow_watermark: 4" in out, out
    assert earliest_and_latest(tern_module, topic) == (4, 10)

    c = consumer(tern_module.bootstrap, auto_offset_reset="earliest")
    try:
        c.assign([TopicPartition(topic, 0, -2)])
        first = next(m for m in iter(lambda: c.poll(10), None) if m.error() is None)
        assert (first.offset(), first.value()) == (4, b"v4")
    finally:
        c.close()

    a = admin(tern_module)
    too_far = a.delete_records([TopicPartition(topic, 0, 11)])
    assert kafka_error(next(iter(too_far.values()))).code() == KafkaError.OFFSET_OUT_OF_RANGE
    everything = a.delete_records([TopicPartition(topic, 0, -1)])  # -1: the high watermark
    assert next(iter(everything.values())).result(timeout=30).low_watermark == 10
    assert earliest_and_latest(tern_module, topic) == (10, 10)


def test_delete_records_is_refused_on_a_compacted_topic(tern_module):
    create_topic(tern_module.bootstrap, "tools-compacted", config={"cleanup.policy": "compact"})
    produce_all(producer(tern_module.bootstrap), "tools-compacted", [Rec(0, 0, b"k", b"v")])
    a = admin(tern_module)
    refused = a.delete_records([TopicPartition("tools-compacted", 0, 1)])
    assert kafka_error(next(iter(refused.values()))).code() == KafkaError.POLICY_VIOLATION
    assert earliest_and_latest(tern_module, "tools-compacted") == (0, 1)


# --- DescribeCluster --------------------------------------------------------------------------

def test_cluster_tool_describes_the_one_broker(tern_module):
    cluster_id = (tern_module.data_dir / "cluster_id").read_text().strip()
    cluster_tool = ["org.apache.kafka.tools.ClusterTool"]
    assert f"Cluster ID: {cluster_id}" in tool("kafka-run-class", *cluster_tool, "cluster-id",
                                               "--bootstrap-server", tern_module.bootstrap)
    endpoints = tool("kafka-run-class", *cluster_tool, "list-endpoints", "--bootstrap-server",
                     tern_module.bootstrap).splitlines()
    assert endpoints[-1].split() == ["1", "127.0.0.1", str(tern_module.port), "null",
                                     "unfenced", "broker"]

    # Controllers' endpoints are listed by controllers only (version 1: no fenced flag).
    r = flexible_call(tern_module.bootstrap, 60, 1, b"\x00\x02\x00")
    r.int("i")
    assert r.int("h") == 114  # MISMATCHED_ENDPOINT_TYPE
    # With authorized operations (version 2): all the cluster's, as there is no authorizer.
    r = flexible_call(tern_module.bootstrap, 60, 2, b"\x01\x01\x01\x00")
    r.int("i")
    assert (r.int("h"), r.string(), r.int("b"), r.string(), r.int("i")) == \
        (0, None, 1, cluster_id, 1)
    brokers = r.array(lambda: (r.int("i"), r.string(), r.int("i"), r.string(), r.int("b"),
                               r.tags()))
    assert brokers == [(1, "127.0.0.1", tern_module.port, None, 0, None)]
    assert r.int("i") == 0b1_1111_1010_0000  # CREATE, ALTER .. IDEMPOTENT_WRITE
