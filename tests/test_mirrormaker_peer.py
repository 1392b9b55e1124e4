"""MirrorMaker 2 runs as the replicator's peer: it copies a topic between two Apache Kafka
nodes, so benchmarks and interop tests can compare against it."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer

from harness.kafka import KafkaPeer
from harness.mirrormaker import MirrorMakerPeer

RECORDS = 200


@pytest.fixture
def two_regions(tmp_path):
    source = KafkaPeer(tmp_path / "source").start()
    try:
        target = KafkaPeer(tmp_path / "target").start()
        try:
            yield source, target
        finally:
            target.stop()
    finally:
        source.stop()


def test_mirrormaker_copies_a_topic_between_two_kafka_nodes(two_regions, tmp_path):
    source, target = two_regions
    source.tool("kafka-topics", "--bootstrap-server", source.bootstrap, "--create",
                "--topic", "orders", "--partitions", "2", "--replication-factor", "1")
    producer = Producer({"bootstrap.servers": source.bootstrap, "acks": "all"})
    sent = {f"k{i}".encode(): f"order-{i}".encode() for i in range(RECORDS)}
    for key, value in sent.items():
        producer.produce("orders", key=key, value=value, headers=[("origin", b"us-east")])
    assert producer.flush(60) == 0

    mm2 = MirrorMakerPeer(tmp_path / "mm2", ("useast", source.bootstrap),
                          ("euwest", target.bootstrap), topics="orders").start()
    try:
        consumer = Consumer({"bootstrap.servers": target.bootstrap, "group.id": "check",
                             "auto.offset.reset": "earliest",
                             "topic.metadata.refresh.interval.ms": 1000})
        consumer.subscribe(["useast.orders"])
        received = {}
        deadline = time.monotonic() + 180
        while len(received) < RECORDS and time.monotonic() < deadline:
            assert mm2.process.running(), mm2.process.log_tail()
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            assert dict(msg.headers() or [])["origin"] == b"us-east"
            received[msg.key()] = msg.value()
        consumer.close()
    finally:
        mm2.stop()
    assert received == sent
