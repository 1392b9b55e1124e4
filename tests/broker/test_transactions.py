"""Transactions against tern-broker, with real clients:

- confluent-kafka: committed records are read by read_committed consumers and aborted ones are
  not; read_committed never reads past an open transaction (the last stable offset), also not
  the committed records of others behind it; a new instance of a transactional id fences the
  old one and aborts its transaction; a transaction left open is aborted after its timeout;
- a consume-transform-produce loop (librdkafka, txn_copier.py; Java, Kafka's
  TransactionalMessageCopier) killed with kill -9 many times, and the broker killed too: the
  output holds every input record exactly once, in order, and the group's offsets end at the
  input's end;
- Kafka's tools: kafka-transactions list/describe/describe-producers agree with what the
  clients did, and Kafka's TransactionLogMessageFormatter reads __transaction_state.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from harness import paths
from harness.process import ManagedProcess
from harness.tern import TernBroker
from tern_fixtures import consumer, create_topic, tern, tern_module, tool

__all__ = ["tern", "tern_module"]

COPIER = Path(__file__).with_name("txn_copier.py")


def txn_producer(bootstrap: str, txn_id: str, **conf) -> Producer:
    settings = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    settings.update({k.replace("_", "."): v for k, v in conf.items()})
    p = Producer(settings)
    p.init_transactions(30)
    return p


def committed_values(bootstrap: str, topic: str, partitions: int, timeout: float = 60,
                     isolation: str = "read_committed") -> dict[int, list[bytes]]:
    """Every value a consumer (read_committed unless told) reads from offset 0 until it
    reaches the end of each partition (its end-of-partition event): markers take offsets but
    are no records, so the high watermark is no count to stop at."""
    c = consumer(bootstrap, isolation_level=isolation)
    out: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    at_end: set[int] = set()
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"{topic}: partitions {at_end} of {partitions} read"
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                    at_end.add(m.partition())
                    continue
                out[m.partition()].append(m.value())
    finally:
        c.close()
    return out


def read_committed_until_quiet(bootstrap: str, topic: str, partitions: int,
                               quiet_s: float = 3.0) -> dict[int, list[bytes]]:
    """What a read_committed consumer gets from offset 0 until nothing more arrives for
    `quiet_s` seconds (for partitions whose high watermark it must not reach)."""
    c = consumer(bootstrap, isolation_level="read_committed", enable_partition_eof=False)
    out: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            for m in c.consume(num_messages=1000, timeout=0.5):
                assert m.error() is None, m.error()
                out[m.partition()].append(m.value())
                last = time.monotonic()
    finally:
        c.close()
    return out


def last_stable_offset(bootstrap: str, topic: str, partition: int = 0) -> int:
    """The latest offset a read_committed client is told (ListOffsets at read_committed)."""
    c = consumer(bootstrap, isolation_level="read_committed")
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)[1]
    finally:
        c.close()


def test_committed_records_are_read_and_aborted_ones_are_not(tern_module):
    bootstrap, topic = tern_module.bootstrap, "txn-commit-abort"
    create_topic(bootstrap, topic, partitions=2)
    p = txn_producer(bootstrap, "txn-commit-abort")
    expected: dict[int, list[bytes]] = {0: [], 1: []}
    for round_, commit in enumerate([True, False, True, False, True]):
        p.begin_transaction()
        for i in range(50):
            value = f"r{round_}-{i}".encode()
            p.produce(topic, value=value, partition=i % 2)
            if commit:
                expected[i % 2].append(value)
        p.flush(30)
        p.commit_transaction(30) if commit else p.abort_transaction(30)
    assert committed_values(bootstrap, topic, 2) == expected
    # read_uncommitted sees the aborted records too (and never the markers).
    everything = committed_values(bootstrap, topic, 2, isolation="read_uncommitted")
    assert sum(len(v) for v in everything.values()) == 250


def test_read_committed_never_reads_past_an_open_transaction(tern_module):
    bootstrap, topic = tern_module.bootstrap, "txn-lso"
    create_topic(bootstrap, topic)
    before = txn_producer(bootstrap, "txn-lso-a")
    before.begin_transaction()
    before.produce(topic, value=b"first", partition=0)
    before.commit_transaction(30)

    open_txn = txn_producer(bootstrap, "txn-lso-b")
    open_txn.begin_transaction()
    open_txn.produce(topic, value=b"pending", partition=0)
    open_txn.flush(30)
    later = txn_producer(bootstrap, "txn-lso-c")
    later.begin_transaction()
    later.produce(topic, value=b"after", partition=0)
    later.commit_transaction(30)

    # The committed record behind the open transaction is held back with it.
    assert read_committed_until_quiet(bootstrap, topic, 1) == {0: [b"first"]}
    assert last_stable_offset(bootstrap, topic) == 2  # "first" at 0, its marker at 1
    open_txn.commit_transaction(30)
    assert committed_values(bootstrap, topic, 1) == {0: [b"first", b"pending", b"after"]}


def test_a_new_instance_fences_the_old_one_and_aborts_its_transaction(tern_module):
    bootstrap, topic = tern_module.bootstrap, "txn-fence"
    create_topic(bootstrap, topic)
    old = txn_producer(bootstrap, "txn-fence")
    old.begin_transaction()
    old.produce(topic, value=b"zombie", partition=0)
    old.flush(30)
    new = txn_producer(bootstrap, "txn-fence")
    with pytest.raises(KafkaException) as fenced:
        old.commit_transaction(30)
    assert fenced.value.args[0].fatal(), fenced.value
    new.begin_transaction()
    new.produce(topic, value=b"live", partition=0)
    new.commit_transaction(30)
    assert committed_values(bootstrap, topic, 1) == {0: [b"live"]}


def test_a_transaction_left_open_is_aborted_after_its_timeout(tmp_path):
    broker = TernBroker(tmp_path / "tern",
                        config={"transactions": "{abort_check_interval_ms: 200}"}).start()
    try:
        bootstrap, topic = broker.bootstrap, "txn-timeout"
        create_topic(bootstrap, topic)
        p = txn_producer(bootstrap, "txn-timeout", transaction_timeout_ms=1500)
        p.begin_transaction()
        for i in range(10):
            p.produce(topic, value=f"abandoned-{i}".encode(), partition=0)
        p.flush(30)
        deadline = time.monotonic() + 60
        while "CompleteAbort" not in tool("kafka-transactions", "--bootstrap-server", bootstrap,
                                          "describe", "--transactional-id", "txn-timeout"):
            assert time.monotonic() < deadline, "the open transaction was never aborted"
            time.sleep(0.5)
        # Its records are aborted, and the last stable offset moved past them and the marker.
        assert read_committed_until_quiet(bootstrap, topic, 1, quiet_s=2) == {0: []}
        assert last_stable_offset(bootstrap, topic) == 11
        # The producer was fenced by the abort's bumped epoch.
        with pytest.raises(KafkaException):
            p.commit_transaction(30)
    finally:
        broker.stop()


def test_an_idle_transactional_id_is_forgotten_and_starts_anew(tmp_path):
    broker = TernBroker(tmp_path / "tern", config={
        "transactions": "{abort_check_interval_ms: 200, id_expiration_ms: 8000}"}).start()
    try:
        bootstrap, topic = broker.bootstrap, "txn-expiry"
        create_topic(bootstrap, topic)
        p = txn_producer(bootstrap, "txn-expiry")
        p.begin_transaction()
        p.produce(topic, value=b"kept", partition=0)
        p.commit_transaction(30)
        first = tool("kafka-transactions", "--bootstrap-server", bootstrap, "describe",
                     "--transactional-id", "txn-expiry")
        first_pid = first.splitlines()[1].split()[2]
        deadline = time.monotonic() + 60
        while "txn-expiry" in tool("kafka-transactions", "--bootstrap-server", bootstrap, "list"):
            assert time.monotonic() < deadline, "the idle transactional id was never forgotten"
            time.sleep(0.5)
        broker.stop()
        broker.restart()  # the tombstone holds across a restart
        assert "txn-expiry" not in tool("kafka-transactions", "--bootstrap-server", bootstrap,
                                        "list")
        again = txn_producer(bootstrap, "txn-expiry")
        again.begin_transaction()
        again.produce(topic, value=b"anew", partition=0)
        again.commit_transaction(30)
        described = tool("kafka-transactions", "--bootstrap-server", bootstrap, "describe",
                         "--transactional-id", "txn-expiry")
        assert described.splitlines()[1].split()[2] != first_pid, described
        assert committed_values(bootstrap, topic, 1) == {0: [b"kept", b"anew"]}
    finally:
        broker.stop()


def test_kafka_transactions_tool_sees_states_and_producers(tern_module):
    bootstrap, topic = tern_module.bootstrap, "txn-tool"
    create_topic(bootstrap, topic)
    p = txn_producer(bootstrap, "txn-tool")
    p.begin_transaction()
    p.produce(topic, value=b"x", partition=0)
    p.flush(30)
    described = tool("kafka-transactions", "--bootstrap-server", bootstrap, "describe",
                     "--transactional-id", "txn-tool")
    assert "Ongoing" in described and f"{topic}-0" in described, described
    producers = tool("kafka-transactions", "--bootstrap-server", bootstrap, "describe-producers",
                     "--topic", topic, "--partition", "0")
    rows = [line.split() for line in producers.splitlines()[1:] if line.strip()]
    assert len(rows) == 1 and rows[0][-1] == "0", producers  # CurrentTransactionStartOffset 0
    listed = tool("kafka-transactions", "--bootstrap-server", bootstrap, "list")
    assert any(line.split()[:1] == ["txn-tool"] and "Ongoing" in line
               for line in listed.splitlines()), listed
    p.commit_transaction(30)
    listed = tool("kafka-transactions", "--bootstrap-server", bootstrap, "list")
    assert any(line.split()[:1] == ["txn-tool"] and "CompleteCommit" in line
               for line in listed.splitlines()), listed
    state = tool("kafka-console-consumer", "--bootstrap-server", bootstrap, "--topic",
                 "__transaction_state", "--from-beginning", "--timeout-ms", "8000",
                 "--formatter", "org.apache.kafka.tools.consumer.TransactionLogMessageFormatter",
                 check=False)
    compact = state.replace(" ", "")
    assert '"transactionalId":"txn-tool"' in compact, state
    # The states the id went through, as Kafka's formatter names them.
    statuses = set(re.findall(r'"transactionalId":"txn-tool"\}\},"value":\{"version":0,'
                              r'"data":\{[^}]*"transactionStatus":"(\w+)"', compact))
    assert {"Empty", "Ongoing", "PrepareCommit", "CompleteCommit"} <= statuses, state


def produce_input(bootstrap: str, topic: str, partitions: int, count: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        p.produce(topic, value=f"in-{i}".encode(), partition=i % partitions)
    assert p.flush(60) == 0


def java_copier_argv(bootstrap: str, source: str, sink: str, group: str, transactional_id: str,
                     *more: str) -> list:
    """Kafka's TransactionalMessageCopier, copying partition 0 of `source` to `sink` in
    transactions of 50 records."""
    return [paths.kafka_tool("kafka-run-class"),
            "org.apache.kafka.tools.TransactionalMessageCopier",
            "--broker-list", bootstrap, "--input-topic", source, "--input-partition", "0",
            "--output-topic", sink, "--consumer-group", group, "--transactional-id",
            transactional_id, "--transaction-size", "50", "--use-group-metadata", *more]


def assert_copied_exactly_once(bootstrap: str, source: str, sink: str, partitions: int,
                               prefix: bytes) -> None:
    inputs = committed_values(bootstrap, source, partitions, isolation="read_uncommitted")
    outputs = committed_values(bootstrap, sink, partitions)
    for p in range(partitions):
        assert outputs[p] == [prefix + v for v in inputs[p]], \
            f"partition {p}: {len(outputs[p])} records out for {len(inputs[p])} in"


def test_librdkafka_copy_loop_is_exactly_once_through_kill_9(tmp_path):
    broker = TernBroker(tmp_path / "tern").start()
    try:
        bootstrap, source, sink, partitions = broker.bootstrap, "ctp-in", "ctp-out", 3
        create_topic(bootstrap, source, partitions)
        create_topic(bootstrap, sink, partitions)
        produce_input(bootstrap, source, partitions, 6000)
        rng = random.Random(5)
        argv = [sys.executable, COPIER, bootstrap, source, sink, "ctp-group", "ctp-txn",
                str(partitions)]
        for round_ in range(12):
            copier = ManagedProcess(f"copier#{round_}", argv, tmp_path / "copier.log").start()
            time.sleep(rng.uniform(1.0, 3.0))
            copier.kill()
            if round_ % 4 == 3:
                broker.kill()
                broker.restart()
        last = ManagedProcess("copier#last", argv, tmp_path / "copier.log").start()
        assert last.proc.wait(timeout=180) == 0, last.log_tail()
        assert_copied_exactly_once(bootstrap, source, sink, partitions, b"copy-")
        groups = tool("kafka-consumer-groups", "--bootstrap-server", bootstrap, "--describe",
                      "--group", "ctp-group")
        lags = [line.split() for line in groups.splitlines() if line.startswith("ctp-group")]
        assert len(lags) == partitions and all(row[5] == "0" for row in lags), groups
    finally:
        broker.stop()


def test_java_copy_loop_is_exactly_once_through_kill_9(tmp_path):
    broker = TernBroker(tmp_path / "tern").start()
    try:
        bootstrap, source, sink = broker.bootstrap, "java-ctp-in", "java-ctp-out"
        create_topic(bootstrap, source)
        create_topic(bootstrap, sink)
        produce_input(bootstrap, source, 1, 3000)
        argv = java_copier_argv(bootstrap, source, sink, "java-ctp", "java-ctp-txn",
                                "--max-messages", "-1", "--enable-random-aborts")
        rng = random.Random(9)
        for round_ in range(8):
            copier = ManagedProcess(f"java-copier#{round_}", argv, tmp_path / "copier.log").start()
            time.sleep(rng.uniform(3.0, 6.0))  # the JVM takes a moment to start copying
            copier.kill()
            if round_ == 4:
                broker.kill()
                broker.restart()
        last = ManagedProcess("java-copier#last", argv, tmp_path / "copier.log").start()
        assert last.proc.wait(timeout=240) == 0, last.log_tail()
        assert_copied_exactly_once(bootstrap, source, sink, 1, b"")
    finally:
        broker.stop()
