"""Apache Kafka 4.4 runs as a test peer: its CLI tools and the Python clients work against it.

This proves the harness that the broker and replicator tests stand on.
"""

from __future__ import annotations

from confluent_kafka import Producer

RECORDS = 1000
PARTITIONS = 3


def produce_records(bootstrap: str, topic: str) -> dict[tuple[int, int], tuple[str, str]]:
    """Produces RECORDS keyed records with confluent-kafka; returns {(partition, offset):
    (key, value)} as acknowledged by the broker."""
    acked: dict[tuple[int, int], tuple[str, str]] = {}
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[(msg.partition(), msg.offset())] = (msg.key().decode(), msg.value().decode())

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    for i in range(RECORDS):
        # Values vary in length and carry non-ASCII text, to catch truncation and re-encoding.
        value = f"value-{i:05d}-" + "ü" * (i % 17) + "x" * (i % 251)
        producer.produce(topic, key=f"key-{i % 97}", value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0, "records still unacknowledged after 60 s"
    assert not errors, errors
    return acked


def test_records_produced_with_confluent_kafka_arrive_intact_at_console_consumer(kafka):
    topic = "peer-check"
    kafka.tool("kafka-topics", "--bootstrap-server", kafka.bootstrap, "--create",
               "--topic", topic, "--partitions", str(PARTITIONS), "--replication-factor", "1")
    described = kafka.tool("kafka-topics", "--bootstrap-server", kafka.bootstrap,
                           "--describe", "--topic", topic).stdout
    assert f"PartitionCount: {PARTITIONS}" in described

    acked = produce_records(kafka.bootstrap, topic)
    assert len(acked) == RECORDS

    out = kafka.tool(
        "kafka-console-consumer", "--bootstrap-server", kafka.bootstrap, "--topic", topic,
        "--from-beginning", "--max-messages", str(RECORDS), "--timeout-ms", "60000",
        "--formatter-property", "print.partition=true",
        "--formatter-property", "print.offset=true",
        "--formatter-property", "print.key=true",
        "--formatter-property", "key.separator=\t").stdout

    consumed: dict[tuple[int, int], tuple[str, str]] = {}
    for line in out.splitlines():
        partition_field, offset_field, key, value = line.split("\t", 3)
        assert partition_field.startswith("Partition:"), line
        assert offset_field.startswith("Offset:"), line
        where = (int(partition_field.split(":")[1]), int(offset_field.split(":")[1]))
        assert where not in consumed, f"record at {where} consumed twice"
        consumed[where] = (key, value)

    assert consumed == acked
    # Every partition holds a gap-free run of offsets from 0.
    for p in {p for p, _ in consumed}:
        offsets = sorted(o for q, o in consumed if q == p)
        assert offsets == list(range(len(offsets)))
