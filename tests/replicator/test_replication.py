"""tern-replicator copies topics record for record: Apache Kafka -> Apache Kafka with prefix
naming, tern-broker -> Apache Kafka, and, exactly-once into tern-broker's transactions, Apache
Kafka -> tern-broker and tern-broker -> tern-broker.

The source is written by one producer per codec (none, gzip, snappy, lz4, zstd) with headers
(repeated keys, null and empty values), null and empty keys, null and empty values and explicit
timestamps. Every target partition must hold its source partition's records in the same order,
equal in key, value, headers (plus the trailing "tern.origin" header) and timestamp. Topic
structure follows the source: "<alias>.<topic>" names, partition counts, copied configs (but
not min.insync.replicas and the like), topics created and partitions added after the start,
config changes.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from harness import paths
from harness.replicator import TernReplicator
from harness.tern import TernBroker
from support import (add_partitions, admin, assert_replicated, consume_all, count_records,
                     create_topic, partition_count, produce, producer, topic_configs, topic_names,
                     wait_caught_up, wait_until)

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
TOPICS = {"orders": 3, "payments": 2, "events": 4}   # name: partitions
TOTAL = 200_000


def make_record(n: int, topic_index: int, partitions: int, ts0: int) -> dict:
    """Record number n, one of every shape in turn: null and empty keys, null (tombstone) and
    empty values, no headers, repeated header keys, null and empty header values, binary data;
    an explicit timestamp (in the recent past, so that retention keeps it)."""
    key = None if n % 7 == 0 else b"" if n % 7 == 1 else b"key-%d" % (n % 5000)
    if n % 11 == 0:
        value = None
    elif n % 11 == 1:
        value = b""
    else:
        value = b"value-%d-" % n + bytes(range(n % 64)) + b"x" * (n % 300)
    headers = [None,
               [("h", b"v%d" % n)],
               [("a", None), ("b", b""), ("a", b"again")],
               [("seq", str(n).encode()), ("bin", b"\x00\xff\x00")]][n % 4]
    record = {"partition": (n // 3) % partitions, "key": key, "value": value,
              "timestamp": ts0 + n}
    if headers is not None:
        record["headers"] = headers
    return record


def produce_mixed(bootstrap: str, topics: dict[str, int], total: int, **producer_conf) -> None:
    """`total` records spread over `topics`, written concurrently by one producer per codec."""
    names = list(topics)
    ts0 = int(time.time() * 1000) - 600_000
    per_codec = total // len(CODECS)
    errors: list[BaseException] = []

    def run(c: int, codec: str) -> None:
        try:
            p = producer(bootstrap, compression_type=codec, linger_ms=20, **producer_conf)
            by_topic: dict[str, list[dict]] = {t: [] for t in names}
            for i in range(per_codec):
                n = c * per_codec + i
                t = names[n % len(names)]
                by_topic[t].append(make_record(n, n % len(names), topics[t], ts0))
            for t, records in by_topic.items():
                produce(p, t, records)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c, codec)) for c, codec in enumerate(CODECS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"producing failed: {errors[0]!r}"


def assert_shapes_present(source: dict[int, list]) -> None:
    """The source really holds every record shape the test is about."""
    recs = [r for rs in source.values() for r in rs]
    shapes = {
        "null key": any(r.key is None for r in recs),
        "empty key": any(r.key == b"" for r in recs),
        "null value": any(r.value is None for r in recs),
        "empty value": any(r.value == b"" for r in recs),
        "null header value": any(v is None for r in recs for _, v in r.headers),
        "repeated header key": any(len({k for k, _ in r.headers}) < len(r.headers) for r in recs),
        "no headers": any(not r.headers for r in recs),
    }
    missing = [name for name, present in shapes.items() if not present]
    assert not missing, f"the source lacks records with {missing}"


def check_topic_copied(source_bootstrap: str, target_bootstrap: str, topic: str, target_topic: str,
                       origin: str) -> int:
    """Reads both sides whole and compares them; returns the record count."""
    src = consume_all(source_bootstrap, topic)
    tgt = consume_all(target_bootstrap, target_topic)
    assert partition_count(target_bootstrap, target_topic) == len(src)
    assert_replicated(src, tgt, origin, what=f"{topic} -> {target_topic}")
    return sum(len(v) for v in src.values())


# --- Apache Kafka -> Apache Kafka, prefix naming -------------------------------------------------

@pytest.fixture(scope="module")
def replicator(kafka_pair, tmp_path_factory):
    """src -> dst with prefix naming, started after the main topics exist; short intervals."""
    for topic, partitions in TOPICS.items():
        create_topic(kafka_pair.source.bootstrap, topic, partitions)
    r = kafka_pair.replicator(tmp_path_factory.mktemp("replicator"), naming="prefix",
                              discovery={"interval_ms": 500}).start()
    yield r
    assert r.stop() == 0, "tern-replicator did not exit cleanly on SIGTERM"


@pytest.mark.timeout(600)
def test_every_record_arrives_in_order_with_every_codec_and_record_shape(kafka_pair, replicator):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    produce_mixed(src, TOPICS, TOTAL)
    mapping = {t: f"src.{t}" for t in TOPICS}
    wait_caught_up(replicator, mapping, timeout=300)
    total = 0
    for topic in TOPICS:
        src_recs = consume_all(src, topic)
        if topic == "orders":
            assert_shapes_present(src_recs)
        tgt_recs = consume_all(dst, mapping[topic])
        assert partition_count(dst, mapping[topic]) == TOPICS[topic]
        assert_replicated(src_recs, tgt_recs, "src", what=f"{topic} -> {mapping[topic]}")
        total += sum(len(v) for v in src_recs.values())
    assert total == TOTAL
    # Identity naming would have written these; prefix naming must not.
    assert not set(TOPICS) & topic_names(dst)


def test_topic_created_after_start_gets_partitions_and_copied_configs(kafka_pair, replicator):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    copied = {"retention.ms": "7200000", "cleanup.policy": "delete",
              "max.message.bytes": "2000000", "segment.ms": "3600000"}
    not_copied = {"min.insync.replicas": "1", "unclean.leader.election.enable": "true",
                  "message.timestamp.type": "LogAppendTime"}
    create_topic(src, "late", 5, config={**copied, **not_copied})
    assert set(topic_configs(src, "late")) == set(copied) | set(not_copied)

    wait_until(lambda: partition_count(dst, "src.late") == 5, 60,
               "src.late with 5 partitions on the target", alive=[replicator])
    assert topic_configs(dst, "src.late") == copied

    produce(producer(src), "late",
            [{"partition": i % 5, "key": b"%d" % i, "value": b"late %d" % i} for i in range(500)])
    wait_caught_up(replicator, {"late": "src.late"})
    # The target's timestamps are the source's (CreateTime), not the target's append time.
    assert check_topic_copied(src, dst, "late", "src.late", "src") == 500


def test_partitions_added_at_the_source_are_added_and_copied(kafka_pair, replicator):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, "growing", 2)
    p = producer(src)
    produce(p, "growing", [{"partition": i % 2, "value": b"before %d" % i} for i in range(200)])
    wait_caught_up(replicator, {"growing": "src.growing"})

    add_partitions(src, "growing", 5)
    # A new producer: one with metadata from before would not know the new partitions yet.
    produce(producer(src), "growing", [{"partition": i % 5, "value": b"after %d" % i} for i in range(500)])
    wait_until(lambda: partition_count(dst, "src.growing") == 5, 60,
               "src.growing grown to 5 partitions", alive=[replicator])
    wait_caught_up(replicator, {"growing": "src.growing"})
    assert check_topic_copied(src, dst, "growing", "src.growing", "src") == 700


def test_config_changes_at_the_source_are_applied_to_the_target(kafka_pair, replicator):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, "tunable", 1, config={"retention.ms": "3600000", "cleanup.policy": "delete",
                                            "max.message.bytes": "2000000"})
    wait_until(lambda: topic_configs(dst, "src.tunable").get("max.message.bytes") == "2000000",
               60, "src.tunable with its configs", alive=[replicator])

    resource = ConfigResource(ConfigResource.Type.TOPIC, "tunable", incremental_configs=[
        ConfigEntry("retention.ms", "1800000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("min.insync.replicas", "1", incremental_operation=AlterConfigOpType.SET),
    ])
    a = admin(src)
    a.incremental_alter_configs([resource])[resource].result(timeout=30)
    # And one through Kafka's own tool.
    kafka_pair.source.tool("kafka-configs", "--bootstrap-server", src, "--alter", "--entity-type",
                           "topics", "--entity-name", "tunable", "--add-config",
                           "cleanup.policy=compact")

    expected = {"retention.ms": "1800000", "segment.ms": "7200000", "cleanup.policy": "compact"}
    seen = {}

    def applied() -> bool:
        seen.update(configs=topic_configs(dst, "src.tunable"))
        return seen["configs"] == expected

    try:
        wait_until(applied, 60, "the changed configs on src.tunable", alive=[replicator])
    except AssertionError as e:
        raise AssertionError(f"{e}; target has {seen.get('configs')}, expected {expected}")


def test_internal_topics_stay_home_and_the_replicators_topics_exist(kafka_pair, replicator):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    for topic in ("heartbeats", "other.internal", "dst.orders", "__private"):
        create_topic(src, topic, 1)
    create_topic(src, "canary", 1)
    # One discovery round sees the canary and everything created before it.
    wait_until(lambda: "src.canary" in topic_names(dst), 60, "src.canary on the target",
               alive=[replicator])
    on_target = topic_names(dst)
    leaked = {t for t in on_target
              if t in ("src.heartbeats", "src.other.internal", "src.dst.orders",
                       "src.__private", "src.__consumer_offsets")}
    assert not leaked, f"internal or returning topics replicated: {leaked}"
    for own in ("mm2-offset-syncs.dst.internal", "src.checkpoints.internal", "heartbeats"):
        assert own in on_target, f"{own} missing on the target; it has {sorted(on_target)}"
    wait_until(lambda: count_records(dst, "heartbeats") > 0, 30, "a heartbeat record",
               alive=[replicator])
    assert partition_count(dst, "mm2-offset-syncs.dst.internal") == 1


# --- tern-broker -> Apache Kafka ---------------------------------------------------------------

TERN_TOPICS = {"tern-alpha": 2, "tern-beta": 3}
TERN_TOTAL = 20_000


@pytest.mark.timeout(300)
def test_transactional_source_is_copied_without_aborted_records_and_progress_reaches_its_end(
        kafka_pair, replicator):
    """A source written in transactions (one aborted): only committed records arrive, and the
    committed progress reaches the source's end offset — past the trailing commit markers,
    which a read_committed consumer never returns — so the lag is 0, not 1."""
    from confluent_kafka import Producer
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    topic = "txn-source"
    create_topic(src, topic, 2)
    p = Producer({"bootstrap.servers": src, "transactional.id": "tern-tests.txn-source"})
    p.init_transactions(30)
    expected = {0: [], 1: []}
    for t in range(6):
        p.begin_transaction()
        for n in range(50):
            value = f"t{t}-{n}".encode()
            p.produce(topic, value=value, partition=n % 2)
            if t != 3:
                expected[n % 2].append(value)
        if t == 3:
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
    wait_caught_up(replicator, {topic: f"src.{topic}"}, timeout=120)
    target = consume_all(dst, f"src.{topic}")
    assert {part: [r.value for r in recs] for part, recs in target.items()} == expected


@pytest.fixture(scope="module")
def tern_source(tmp_path_factory):
    broker = TernBroker(tmp_path_factory.mktemp("tern")).start()
    yield broker
    broker.stop()


@pytest.mark.timeout(400)
def test_tern_broker_source_is_copied_record_for_record(kafka_pair, tern_source, tmp_path):
    dst = kafka_pair.target.bootstrap
    for topic, partitions in TERN_TOPICS.items():
        create_topic(tern_source.bootstrap, topic, partitions)
    produce_mixed(tern_source.bootstrap, TERN_TOPICS, TERN_TOTAL, enable_idempotence=True)
    r = TernReplicator(tmp_path / "replicator", ("tern", tern_source.bootstrap), ("dst", dst),
                       extra={"naming": "prefix"}).start()
    try:
        mapping = {t: f"tern.{t}" for t in TERN_TOPICS}
        wait_caught_up(r, mapping, timeout=240)
        total = 0
        for topic in TERN_TOPICS:
            src_recs = consume_all(tern_source.bootstrap, topic)
            if topic == "tern-alpha":
                assert_shapes_present(src_recs)
            assert_replicated(src_recs, consume_all(dst, mapping[topic]), "tern",
                              what=f"{topic} -> {mapping[topic]}")
            assert partition_count(dst, mapping[topic]) == TERN_TOPICS[topic]
            total += sum(len(v) for v in src_recs.values())
        assert total == TERN_TOTAL
    finally:
        assert r.stop() == 0, "tern-replicator did not exit cleanly on SIGTERM"


# --- into tern-broker, exactly-once --------------------------------------------------------------

def copy_into_tern_target(source_bootstrap: str, source_alias: str, topics: dict[str, int],
                          total: int, workdir) -> None:
    """Writes `total` mixed records to `topics` at the source, replicates them with the default
    delivery (exactly-once, tern-broker's transactions) and identity naming into a fresh
    tern-broker, and compares every partition record for record."""
    for topic, partitions in topics.items():
        create_topic(source_bootstrap, topic, partitions)
    target = TernBroker(workdir / "tern-target").start()
    r = TernReplicator(workdir / "replicator", (source_alias, source_bootstrap),
                       ("tern", target.bootstrap),
                       extra={"topics": {"include": [f"{t}$" for t in topics]}}).start()
    try:
        produce_mixed(source_bootstrap, topics, total, enable_idempotence=True)
        wait_caught_up(r, {t: t for t in topics}, timeout=300)
        # The copy went through transactions on the target: its transactional id is there.
        listed = subprocess.run([str(paths.kafka_tool("kafka-transactions")), "--bootstrap-server",
                                 target.bootstrap, "list"], capture_output=True, text=True,
                                timeout=120, check=True).stdout
        assert f"tern-replicator.{source_alias}.tern" in listed, listed
        copied = 0
        for topic in topics:
            src_recs = consume_all(source_bootstrap, topic)
            assert_replicated(src_recs, consume_all(target.bootstrap, topic), source_alias,
                              what=f"{topic} -> tern {topic}")
            assert partition_count(target.bootstrap, topic) == topics[topic]
            copied += sum(len(v) for v in src_recs.values())
        assert copied == total
    finally:
        assert r.stop() == 0, "tern-replicator did not exit cleanly on SIGTERM"
        target.stop()


@pytest.mark.timeout(600)
def test_kafka_source_is_copied_exactly_once_into_tern_broker(kafka_pair, tmp_path):
    copy_into_tern_target(kafka_pair.source.bootstrap, "src",
                          {"into-tern-a": 3, "into-tern-b": 2}, TOTAL, tmp_path)


@pytest.mark.timeout(400)
def test_tern_broker_source_is_copied_exactly_once_into_tern_broker(tern_source, tmp_path):
    copy_into_tern_target(tern_source.bootstrap, "tern-east",
                          {"tern-to-tern-a": 2, "tern-to-tern-b": 3}, TERN_TOTAL * 2, tmp_path)
