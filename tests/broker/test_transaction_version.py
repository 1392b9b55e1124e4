"""Transaction version 2 (KIP-890) against tern-broker:
- Kafka's feature tool reads transaction.version from ApiVersions: supported 0-2, finalized at
  the configured `transactions.version`;
- Kafka 4's Java producer, in a consume-transform-produce loop (Kafka's
  TransactionalMessageCopier), runs version 2 when it is finalized: no AddPartitionsToTxn and
  no AddOffsetsToTxn reach the broker, every commit bumps the producer epoch, and the output
  holds each input record once; with `transactions.version: 1` it keeps to version 1;
- Produce v12 by hand: a transactional write joins the transaction itself (v11 is refused
  until AddPartitionsToTxn), and after a commit the old epoch is fenced; the partitions
  writes joined are in the transaction after a kill -9, and the commit reaches them;
- EndTxn v5 by hand: an abort with nothing open bumps the epoch, a retry of it is answered as
  the first one, a commit at the epoch before it is fenced, a commit with nothing open or an
  unknown epoch or producer id are refused; past
  epoch 32766 the id moves to a new producer id at epoch 0, and a retry with the old id is
  answered alike.
"""
from __future__ import annotations

import re
import urllib.request

import pytest

import kafka_wire as kw
from harness.ports import free_port
from harness.process import ManagedProcess
from harness.tern import TernBroker
from tern_fixtures import create_topic, partition_for, segment_files, tern, tern_module, tool
from test_transactions import (assert_copied_exactly_once, committed_values, java_copier_argv,
                               produce_input)

__all__ = ["tern", "tern_module"]


def metrics_text(metrics_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        return r.read().decode()


def request_counts(metrics_port: int) -> dict[str, int]:
    """Requests handled per API, from the broker's /metrics."""
    return {api: int(float(n)) for api, n in re.findall(
        r'^tern_broker_request_duration_seconds_count\{api="(\w+)"\} (\S+)$',
        metrics_text(metrics_port), re.M)}


def transactions_ended(metrics_port: int) -> int:
    """Transactions the coordinator ended, every outcome (a retried EndTxn ends none)."""
    return sum(int(float(n)) for n in re.findall(
        r'^tern_broker_transactions_ended_total\{[^}]*\} (\S+)$', metrics_text(metrics_port),
        re.M))


def describe_transaction(bootstrap: str, transactional_id: str) -> dict[str, str]:
    """kafka-transactions describe: its header row's columns and the id's row."""
    out = tool("kafka-transactions", "--bootstrap-server", bootstrap, "describe",
               "--transactional-id", transactional_id)
    lines = [line.split() for line in out.splitlines() if line.strip()]
    at = next(i for i, words in enumerate(lines) if "TransactionalId" in words)
    return dict(zip(lines[at], lines[at + 1]))


def features(bootstrap: str) -> str:
    return tool("kafka-run-class", "org.apache.kafka.tools.FeatureCommand",
                "--bootstrap-server", bootstrap, "describe")


def test_feature_tool_reports_the_configured_transaction_version(tmp_path):
    default = TernBroker(tmp_path / "default").start()
    try:
        out = features(default.bootstrap)
        assert re.search(r"Feature: transaction.version\s+SupportedMinVersion: 0\s+"
                         r"SupportedMaxVersion: 2\s+FinalizedVersionLevel: 2", out), out
    finally:
        default.stop()
    v1 = TernBroker(tmp_path / "v1", config={"transactions": "{version: 1}"}).start()
    try:
        out = features(v1.bootstrap)
        assert re.search(r"transaction.version\s.*FinalizedVersionLevel: 1\s", out), out
    finally:
        v1.stop()


@pytest.mark.parametrize("version", [2, 1])
def test_java_copy_loop_uses_the_finalized_transaction_version(tmp_path, version):
    metrics_port = free_port()
    broker = TernBroker(tmp_path / "tern", config={
        "metrics_listen": f"127.0.0.1:{metrics_port}",
        "transactions": f"{{version: {version}}}"}).start()
    try:
        bootstrap, source, sink = broker.bootstrap, "tv-in", "tv-out"
        create_topic(bootstrap, source)
        create_topic(bootstrap, sink, partitions=3)
        produce_input(bootstrap, source, 1, 600)
        argv = java_copier_argv(bootstrap, source, sink, "tv-copy", "tv-copy",
                                "--max-messages", "600")
        copier = ManagedProcess("java-copier", argv, tmp_path / "copier.log").start()
        assert copier.proc.wait(timeout=180) == 0, copier.log_tail()
        assert_copied_exactly_once(bootstrap, source, sink, 1, b"")

        counts = request_counts(metrics_port)
        commits = counts.get("EndTxn", 0)
        assert commits >= 600 // 50, counts
        assert counts.get("TxnOffsetCommit", 0) >= commits, counts
        described = describe_transaction(bootstrap, "tv-copy")
        assert described["TransactionState"] == "CompleteCommit", described
        if version == 2:
            # Partitions and the group's offsets joined each transaction with the writes
            # themselves, and each commit moved the producer to the next epoch.
            assert counts.get("AddPartitionsToTxn", 0) == 0, counts
            assert counts.get("AddOffsetsToTxn", 0) == 0, counts
            ended = transactions_ended(metrics_port)
            assert ended >= 600 // 50, counts
            assert int(described["ProducerEpoch"]) == ended, (described, counts)
        else:
            assert counts.get("AddPartitionsToTxn", 0) >= commits, counts
            assert counts.get("AddOffsetsToTxn", 0) >= commits, counts
            assert int(described["ProducerEpoch"]) == 0, described
    finally:
        broker.stop()


def test_end_txn_v5_bumps_the_epoch_and_answers_a_retry_alike(tern_module):
    with kw.Connection(tern_module.bootstrap) as conn:
        error, pid, epoch = kw.init_producer_id(conn, 3, transactional_id="tv-raw",
                                                timeout_ms=60000)
        assert (error, epoch) == (kw.NONE, 0)
        # Abort with nothing open (as right after initTransactions): the epoch moves on.
        assert kw.end_txn(conn, 5, "tv-raw", pid, 0, False) == (kw.NONE, pid, 1)
        # The same request again, as a client retries it: the same answer, no second bump.
        assert kw.end_txn(conn, 5, "tv-raw", pid, 0, False) == (kw.NONE, pid, 1)
        # A commit at the epoch before an abort (as after the coordinator aborted a timed-out
        # transaction) is fenced; a commit with nothing open, an epoch the coordinator never
        # gave, and an unknown producer id are refused.
        assert kw.end_txn(conn, 5, "tv-raw", pid, 0, True)[0] == kw.PRODUCER_FENCED
        assert kw.end_txn(conn, 5, "tv-raw", pid, 1, True)[0] == kw.INVALID_TXN_STATE
        assert kw.end_txn(conn, 5, "tv-raw", pid, 7, False)[0] == kw.PRODUCER_FENCED
        assert kw.end_txn(conn, 5, "tv-raw", pid + 1000, 1, False)[0] == 49  # ID_MAPPING
        # Version 4 keeps version 1's rules: no bump, no producer id in the answer.
        assert kw.end_txn(conn, 4, "tv-raw", pid, 1, False) == (kw.NONE, -1, -1)
        assert kw.end_txn(conn, 5, "tv-raw", pid, 1, False) == (kw.NONE, pid, 2)


def test_end_txn_v5_moves_to_a_new_producer_id_when_the_epoch_runs_out(tmp_path):
    # fsync never: the 32k state changes this walk takes are not what is under test.
    broker = TernBroker(tmp_path / "tern", config={"fsync": "never"}).start()
    try:
        with kw.Connection(broker.bootstrap) as conn:
            error, pid, epoch = kw.init_producer_id(conn, 3, transactional_id="tv-wrap")
            assert (error, epoch) == (kw.NONE, 0)
            while epoch < 32765:  # each InitProducerId of the same instance bumps the epoch
                error, same_pid, epoch = kw.init_producer_id(
                    conn, 3, transactional_id="tv-wrap", producer_id=pid, producer_epoch=epoch)
                assert (error, same_pid) == (kw.NONE, pid)
            assert kw.end_txn(conn, 5, "tv-wrap", pid, 32765, False) == (kw.NONE, pid, 32766)
            error, new_pid, new_epoch = kw.end_txn(conn, 5, "tv-wrap", pid, 32766, False)
            assert (error, new_epoch) == (kw.NONE, 0) and new_pid != pid
            # A retry with the old producer id gets the same answer, after a kill -9 too: the
            # completed state records the id it moved from.
            assert kw.end_txn(conn, 5, "tv-wrap", pid, 32766, False) == (kw.NONE, new_pid, 0)
        broker.kill()
        broker.restart()
        with kw.Connection(broker.bootstrap) as conn:
            assert kw.end_txn(conn, 5, "tv-wrap", pid, 32766, False) == (kw.NONE, new_pid, 0)
            assert kw.end_txn(conn, 5, "tv-wrap", new_pid, 0, False) == (kw.NONE, new_pid, 1)
        # Kafka's formatter reads the state records, the moved one with its tagged field.
        dump = tool("kafka-run-class", "org.apache.kafka.tools.DumpLogSegments", "--files",
                    ",".join(str(f) for f in segment_files(
                        broker.data_dir, "__transaction_state", partition_for("tv-wrap"))),
                    "--transaction-log-decoder")
        assert re.search(r'"previousProducerId":' + str(pid), dump), dump[-3000:]
    finally:
        broker.stop()


def test_produce_v12_joins_the_transaction_and_a_bumped_epoch_fences_the_old_one(tern_module):
    bootstrap, topic, txn_id = tern_module.bootstrap, "tv-produce", "tv-produce"
    create_topic(bootstrap, topic)

    def batch(value: bytes, epoch: int, sequence: int) -> bytes:
        return kw.record_batch([(None, value)], producer_id=pid, producer_epoch=epoch,
                               base_sequence=sequence, transactional=True)

    with kw.Connection(bootstrap) as conn:
        error, pid, epoch = kw.init_producer_id(conn, 3, transactional_id=txn_id)
        assert (error, epoch) == (kw.NONE, 0)
        # Version 1's rule below v12: the partition must have been added first.
        assert kw.produce_flexible(conn, 11, topic, 0, batch(b"a", 0, 0), txn_id)[0] == \
            kw.INVALID_TXN_STATE
        assert kw.produce_flexible(conn, 12, topic, 0, batch(b"a", 0, 0), txn_id) == (kw.NONE, 0)
        described = describe_transaction(bootstrap, txn_id)
        assert described["TransactionState"] == "Ongoing", described
        assert kw.end_txn(conn, 5, txn_id, pid, 0, True) == (kw.NONE, pid, 1)
        # The commit moved the producer to epoch 1: epoch 0 is fenced, epoch 1 starts at 0.
        assert kw.produce_flexible(conn, 12, topic, 0, batch(b"x", 0, 1), txn_id)[0] == \
            kw.INVALID_PRODUCER_EPOCH
        assert kw.produce_flexible(conn, 12, topic, 0, batch(b"b", 1, 0), txn_id) == (kw.NONE, 2)
        assert kw.end_txn(conn, 5, txn_id, pid, 1, True) == (kw.NONE, pid, 2)
    assert committed_values(bootstrap, topic, 1) == {0: [b"a", b"b"]}


def test_a_partition_a_write_joined_is_in_the_transaction_after_kill_9(tmp_path):
    broker = TernBroker(tmp_path / "tern").start()
    try:
        bootstrap, topic, txn_id = broker.bootstrap, "tv-kill", "tv-kill"
        create_topic(bootstrap, topic, partitions=2)
        with kw.Connection(bootstrap) as conn:
            error, pid, _ = kw.init_producer_id(conn, 3, transactional_id=txn_id)
            assert error == kw.NONE
            for partition, value in [(0, b"a"), (1, b"b")]:
                batch = kw.record_batch([(None, value)], producer_id=pid, producer_epoch=0,
                                        base_sequence=0, transactional=True)
                assert kw.produce_flexible(conn, 12, topic, partition, batch, txn_id) == \
                    (kw.NONE, 0)
        broker.kill()
        broker.restart()
        # The transaction's state, partitions included, was written before the writes were
        # acknowledged: the coordinator rebuilt it, and the commit reaches both partitions.
        described = describe_transaction(bootstrap, txn_id)
        assert described["TransactionState"] == "Ongoing", described
        assert set(described["TopicPartitions"].split(",")) == {f"{topic}-0", f"{topic}-1"}, \
            described
        with kw.Connection(bootstrap) as conn:
            assert kw.end_txn(conn, 5, txn_id, pid, 0, True) == (kw.NONE, pid, 1)
        assert committed_values(bootstrap, topic, 2) == {0: [b"a"], 1: [b"b"]}
    finally:
        broker.stop()
