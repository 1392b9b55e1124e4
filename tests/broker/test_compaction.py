"""cleanup.policy=compact end to end: tern-broker's background compactor keeps the latest
record per key of a compacted topic, at its original offset, and removes older ones."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness.tern import TernBroker

KEYS = 20
ROUNDS = 30


def read_all(bootstrap: str, topic: str) -> list[tuple[int, bytes, bytes]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out = []
    while True:
        msg = consumer.poll(10)
        assert msg is not None, "no end-of-partition event within 10 s"
        if msg.error():
            assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
            break
        out.append((msg.offset(), msg.key(), msg.value()))
    consumer.close()
    return out


def test_compaction_keeps_the_latest_record_per_key(tmp_path):
    broker = TernBroker(tmp_path / "tern", {"retention_check_interval_ms": 200}).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("compacted", 1, 1, config={
            "cleanup.policy": "compact", "segment.bytes": "2048"})])["compacted"].result(30)

        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                             "linger.ms": 0})
        latest: dict[bytes, tuple[int, bytes]] = {}

        def remember(err, msg):
            assert err is None, err
            latest[msg.key()] = (msg.offset(), msg.value())

        for r in range(ROUNDS):
            for k in range(KEYS):
                producer.produce("compacted", key=f"key-{k}".encode(),
                                 value=f"round-{r}-of-key-{k}".encode(), on_delivery=remember)
            producer.flush(30)
        total = KEYS * ROUNDS

        deadline = time.monotonic() + 60
        records = read_all(broker.bootstrap, "compacted")
        while len(records) > total // 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            records = read_all(broker.bootstrap, "compacted")
        assert records, "nothing could be read back"
        assert len(records) < total // 2, "the compactor removed nothing within 60 s"

        # Every key's latest record is still there, at the offset it was acknowledged at.
        by_key: dict[bytes, list[tuple[int, bytes]]] = {}
        for offset, key, value in records:
            by_key.setdefault(key, []).append((offset, value))
        for key, (offset, value) in latest.items():
            assert by_key[key][-1] == (offset, value)
        # Offsets only increase; older copies of a key appear only where the active segment
        # (never compacted) still holds them.
        offsets = [o for o, _, _ in records]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    finally:
        broker.stop()


def test_compacted_topic_refuses_records_without_a_key(tmp_path):
    broker = TernBroker(tmp_path / "tern").start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("keyed", 1, 1, config={"cleanup.policy": "compact"})]
                            )["keyed"].result(30)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "retries": 0})
        outcomes = []
        producer.produce("keyed", key=b"k", value=b"kept",
                         on_delivery=lambda err, msg: outcomes.append(err))
        producer.flush(30)
        producer.produce("keyed", value=b"no key",
                         on_delivery=lambda err, msg: outcomes.append(err))
        producer.flush(30)
        assert outcomes[0] is None
        assert outcomes[1] is not None and outcomes[1].code() == KafkaError.INVALID_RECORD
        records = read_all(broker.bootstrap, "keyed")
        assert [(k, v) for _, k, v in records] == [(b"k", b"kept")]
    finally:
        broker.stop()
