"""A consume-transform-produce loop with librdkafka transactions, as a process of its own so a
test can kill -9 it at any moment:

    txn_copier.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID PARTITIONS

Reads INPUT's partitions (assign mode, from GROUP's committed offsets, read_committed), writes
each record to the same partition of OUTPUT with its value prefixed by b"copy-", and commits the
consumed offsets in the same transaction (send_offsets_to_transaction), a few records a
transaction. Exits 0 once every partition's committed position reached the end INPUT had when
the loop started; any error ends it non-zero (the test starts it again).
"""

from __future__ import annotations

import sys

from confluent_kafka import Consumer, Producer, TopicPartition


def main() -> int:
    bootstrap, source, sink, group, txn_id, partitions = sys.argv[1:7]
    parts = range(int(partitions))
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                         "transaction.timeout.ms": 30000, "linger.ms": 2})
    producer.init_transactions(60)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    committed = consumer.committed([TopicPartition(source, p) for p in parts], timeout=30)
    position = {tp.partition: max(tp.offset, 0) for tp in committed}
    ends = {p: consumer.get_watermark_offsets(TopicPartition(source, p), timeout=30)[1]
            for p in parts}
    consumer.assign([TopicPartition(source, p, position[p]) for p in parts])
    while any(position[p] < ends[p] for p in parts):
        messages = [m for m in consumer.consume(num_messages=20, timeout=1.0) if m.error() is None]
        if not messages:
            continue
        producer.begin_transaction()
        for m in messages:
            producer.produce(sink, key=m.key(), value=b"copy-" + m.value(), partition=m.partition())
            position[m.partition()] = m.offset() + 1
        producer.send_offsets_to_transaction(
            [TopicPartition(source, p, position[p]) for p in parts],
            consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(60)
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
