"""tern-replicator carries consumer groups across regions, in MirrorMaker 2's formats.

Two Apache Kafka nodes ("src" replicated to "dst", exactly-once, prefix naming: topic T
appears on the target as "src.T") and one replicator are shared by the module. Because the
replicator writes transactions, the target's logs hold commit markers the source's do not, so
a record's offset differs between the sides and a group's committed offset has to be translated.
The tests know the right translation independently: record values carry sequence numbers, so
"where the same next record lives on the target" is found by reading both logs.

Covered: failover of a group to the target without gap or duplicate; a target group with active
members is left alone and a target offset never moves backwards; the groups filter; the
checkpoints, offset-syncs and heartbeats records decoded byte by byte as MirrorMaker 2 lays them
out, and MirrorMaker 2's own client (RemoteClusterUtils.translateOffsets, TranslateOffsets.java)
agreeing with the replicator; translation across a restart; a deleted state directory, after
which replication resumes from the progress committed on the target; and a target topic
deleted while the replicator was stopped, whose records are then copied again in full.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from confluent_kafka import (Consumer, ConsumerGroupState, ConsumerGroupTopicPartitions,
                             KafkaError, KafkaException, TopicPartition)
from confluent_kafka.admin import ConfigResource

from harness import paths
from harness.kafka import KafkaPeer
from harness.replicator import TernReplicator
from support import (Pair, Rec, admin, consume_all, create_topic, delete_topic, producer,
                     topic_names, wait_until)
from support import produce as produce_records

SOURCE_ALIAS = "src"
TARGET_ALIAS = "dst"
CHECKPOINTS_TOPIC = f"{SOURCE_ALIAS}.checkpoints.internal"
OFFSET_SYNCS_TOPIC = f"mm2-offset-syncs.{TARGET_ALIAS}.internal"
HEARTBEATS_TOPIC = "heartbeats"
EXCLUDED_GROUPS = r"private\..*"
# The harness syncs groups every second; waiting this long lets several rounds pass.
SEVERAL_SYNC_ROUNDS_S = 3.5
WAIT_S = 90


# ---------------------------------------------------------------------------------------------
# Clusters and the replicator


@dataclass
class Regions:
    source: KafkaPeer
    target: KafkaPeer
    replicator: TernReplicator


@pytest.fixture(scope="module")
def regions(kafka_pair, tmp_path_factory) -> Regions:
    pair = Pair(kafka_pair.source, kafka_pair.target, SOURCE_ALIAS, TARGET_ALIAS)
    replicator = pair.replicator(
        tmp_path_factory.mktemp("replicator"), naming="prefix", delivery="exactly-once",
        groups={"include": [".*"], "exclude": [EXCLUDED_GROUPS]}).start()
    yield Regions(pair.source, pair.target, replicator)
    replicator.stop()


@pytest.fixture(autouse=True)
def replicator_up(regions):
    """A test that stopped the replicator and failed does not take the next ones down too."""
    if not regions.replicator.running():
        regions.replicator.start()


def target_name(topic: str) -> str:
    return f"{SOURCE_ALIAS}.{topic}"


def wait_for(ready: Callable[[], object], what: str, regions: Regions,
             details: Callable[[], str] | None = None) -> None:
    """Polls `ready` until it is truthy; fails naming `what` and, when given, the `details` of
    the last look (or with the replicator's log tail if it exited)."""
    try:
        wait_until(ready, WAIT_S, what, interval=0.25, alive=[regions.replicator])
    except AssertionError as e:
        raise AssertionError(f"{e}" + (f"; {details()}" if details else "")) from None


# ---------------------------------------------------------------------------------------------
# Kafka helpers


def read_topic(bootstrap: str, topic: str) -> dict[int, list[Rec]]:
    """Every committed record of every partition of `topic`; {} if it does not exist (yet)."""
    return consume_all(bootstrap, topic)


def count(records: dict[int, list[Rec]]) -> int:
    return sum(len(r) for r in records.values())


def produce(bootstrap: str, topic: str, first: int, n: int, partitions: int) -> None:
    """Records first..first+n-1: value "<topic>-<seq>", partition seq % partitions."""
    produce_records(producer(bootstrap), topic, (
        {"partition": seq % partitions, "key": f"k{seq}".encode(),
         "value": f"{topic}-{seq:06d}".encode()} for seq in range(first, first + n)))


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """A group's committed offsets: (topic, partition) -> offset; {} for an unknown group."""
    client = admin(bootstrap)  # kept alive until the result arrives
    request = ConsumerGroupTopicPartitions(group)
    try:
        result = client.list_consumer_group_offsets([request])[group].result(timeout=30)
    except KafkaException as e:
        if e.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return {}
        raise
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []
            if tp.offset >= 0}


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commits offsets for a group without members (as an operator's tool would)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        result = consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                                 asynchronous=False)
        assert not [tp for tp in result if tp.error], result
    finally:
        consumer.close()


def group_state(bootstrap: str, group: str) -> ConsumerGroupState:
    client = admin(bootstrap)
    return client.describe_consumer_groups([group])[group].result(timeout=30).state


def wait_committed(regions: Regions, group: str, expected: dict[tuple[str, int], int]) -> None:
    """Waits until the target group's offsets on the expected partitions equal `expected`."""
    seen: dict = {}

    def ready() -> bool:
        nonlocal seen
        now = committed(regions.target.bootstrap, group)
        seen = {k: now.get(k) for k in expected}
        return seen == expected

    wait_for(ready, f"target group {group!r} committing {expected}", regions,
             lambda: f"it has {seen}")


# ---------------------------------------------------------------------------------------------
# MirrorMaker 2's records (Kafka protocol structs: big-endian, STRING = int16 length + UTF-8)


class Fields:
    def __init__(self, data: bytes | None, what: str):
        assert data is not None, f"{what}: null"
        self.data, self.pos, self.what = data, 0, what

    def _take(self, fmt: str):
        size = struct.calcsize(fmt)
        assert self.pos + size <= len(self.data), f"{self.what}: cut short at byte {self.pos}"
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def int64(self) -> int:
        return self._take(">q")

    def string(self) -> str:
        length = self.int16()
        assert length >= 0, f"{self.what}: null or negative string length {length}"
        assert self.pos + length <= len(self.data), f"{self.what}: string cut short"
        text = self.data[self.pos:self.pos + length].decode("utf-8")
        self.pos += length
        return text

    def end(self) -> None:
        assert self.pos == len(self.data), \
            f"{self.what}: {len(self.data) - self.pos} bytes after the end: {self.data!r}"


@dataclass(frozen=True)
class Checkpoint:
    group: str
    topic: str
    partition: int
    upstream: int
    downstream: int
    metadata: str


@dataclass(frozen=True)
class OffsetSync:
    topic: str
    partition: int
    upstream: int
    downstream: int


def decode_checkpoint(record: Rec) -> Checkpoint:
    key, value = Fields(record.key, "checkpoint key"), Fields(record.value, "checkpoint value")
    group, topic, partition = key.string(), key.string(), key.int32()
    key.end()
    version = value.int16()
    assert version == 0, f"checkpoint value version {version}"
    upstream, downstream, metadata = value.int64(), value.int64(), value.string()
    value.end()
    return Checkpoint(group, topic, partition, upstream, downstream, metadata)


def decode_offset_sync(record: Rec) -> OffsetSync:
    key, value = Fields(record.key, "offset-sync key"), Fields(record.value, "offset-sync value")
    topic, partition = key.string(), key.int32()
    key.end()
    upstream, downstream = value.int64(), value.int64()
    value.end()
    return OffsetSync(topic, partition, upstream, downstream)


def checkpoints(regions: Regions) -> list[Checkpoint]:
    records = read_topic(regions.target.bootstrap, CHECKPOINTS_TOPIC)
    assert set(records) <= {0}, f"{CHECKPOINTS_TOPIC} has partitions {sorted(records)}"
    return [decode_checkpoint(r) for r in records.get(0, [])]


def latest_checkpoints(regions: Regions, group: str) -> dict[tuple[str, int], Checkpoint]:
    latest = {}
    for c in checkpoints(regions):
        if c.group == group:
            latest[(c.topic, c.partition)] = c
    return latest


def wait_checkpoint(regions: Regions, group: str, topic: str, partition: int,
                    upstream: int) -> Checkpoint:
    """Waits until the newest checkpoint of (group, topic, partition) carries `upstream`: the
    replicator has seen that source commit."""
    found: dict = {}

    def ready() -> bool:
        nonlocal found
        found = latest_checkpoints(regions, group)
        c = found.get((topic, partition))
        return c is not None and c.upstream == upstream

    wait_for(ready, f"a checkpoint of {group} {topic}[{partition}] at upstream {upstream}",
             regions, lambda: f"newest: {found.get((topic, partition))}")
    return found[(topic, partition)]


def mirrormaker_libs() -> Path:
    if os.environ.get("TERN_MIRRORMAKER_LIBS"):
        return Path(os.environ["TERN_MIRRORMAKER_LIBS"])
    versions = dict(line.split("=", 1) for line in
                    (paths.ROOT / "scripts" / "versions.env").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    return (Path.home() / ".cache" / "tern" / "peers" /
            f"mirrormaker-{versions['MIRRORMAKER_VERSION'].strip()}" / "libs")


def mm2_translate(bootstrap: str, remote_alias: str, group: str) -> dict[tuple[str, int], int]:
    """RemoteClusterUtils.translateOffsets, run by MirrorMaker 2's own client library."""
    libs = mirrormaker_libs()
    assert list(libs.glob("connect-mirror-client-*.jar")), \
        f"no connect-mirror-client jar in {libs}: run scripts/setup.sh"
    result = subprocess.run(
        ["java", "-cp", f"{libs}/*", str(Path(__file__).with_name("TranslateOffsets.java")),
         bootstrap, remote_alias, group], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"TranslateOffsets exited {result.returncode}\n" \
        f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    translated = {}
    for line in result.stdout.splitlines():
        topic, partition, offset = line.split()
        translated[(topic, int(partition))] = int(offset)
    return translated


# ---------------------------------------------------------------------------------------------
# Replicated data and the reference translation


@dataclass
class Replicated:
    """Both sides of one replicated topic, read after replication caught up."""
    source_topic: str
    partitions: int
    source: dict[int, list[Rec]]
    target: dict[int, list[Rec]]

    @property
    def target_topic(self) -> str:
        return target_name(self.source_topic)

    def values(self) -> list[bytes]:
        return [r.value for p in sorted(self.source) for r in self.source[p]]

    def end(self, partition: int) -> int:
        records = self.source[partition]
        return records[-1].offset + 1 if records else 0

    def translate(self, partition: int, offset: int) -> int:
        """Where a consumer that committed `offset` on the source continues on the target: the
        target offset of the same next record, or after the last record when it read all."""
        on_target = {r.value: r.offset for r in self.target[partition]}
        for r in self.source[partition]:
            if r.offset >= offset:
                return on_target[r.value]
        last = self.target[partition]
        return last[-1].offset + 1 if last else 0

    def translate_all(self, offsets: dict[int, int]) -> dict[tuple[str, int], int]:
        return {(self.target_topic, p): self.translate(p, o) for p, o in offsets.items()}


def first_difference(a: list, b: list) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def wait_replicated(regions: Regions, topic: str, total: int) -> Replicated:
    """Waits until the target has all `total` records of `topic`; fails on any record too many
    and on any duplicate."""
    seen = 0

    def ready() -> bool:
        nonlocal seen
        seen = count(read_topic(regions.target.bootstrap, target_name(topic)))
        return seen >= total

    wait_for(ready, f"{total} records on {target_name(topic)}", regions, lambda: f"{seen} there")
    source = read_topic(regions.source.bootstrap, topic)
    target = read_topic(regions.target.bootstrap, target_name(topic))
    assert count(source) == total, f"the source has {count(source)} records, not {total}"
    assert sorted(source) == sorted(target), "partition counts differ"
    for p in source:
        src_values = [r.value for r in source[p]]
        tgt_values = [r.value for r in target[p]]
        assert tgt_values == src_values, f"{topic}[{p}]: the target's records differ from " \
            f"index {first_difference(src_values, tgt_values)} on"
    return Replicated(topic, len(source), source, target)


def produce_while_replicating(regions: Regions, topic: str, first: int, n: int, partitions: int,
                              bursts: int) -> None:
    """Produces in bursts, the first one copied before the next is sent, so that the target
    gets several transactions (and their markers) per partition."""
    size = n // bursts
    already = count(read_topic(regions.target.bootstrap, target_name(topic)))
    produce(regions.source.bootstrap, topic, first, size, partitions)
    wait_for(lambda: count(read_topic(regions.target.bootstrap, target_name(topic)))
             >= already + size, f"the first burst of {topic} copied", regions)
    for b in range(1, bursts):
        time.sleep(0.3)
        last = first + n if b == bursts - 1 else first + (b + 1) * size
        produce(regions.source.bootstrap, topic, first + b * size, last - (first + b * size),
                partitions)


def replicate_new_topic(regions: Regions, topic: str, partitions: int, n: int,
                        bursts: int) -> Replicated:
    create_topic(regions.source.bootstrap, topic, partitions)
    produce_while_replicating(regions, topic, 0, n, partitions, bursts)
    data = wait_replicated(regions, topic, n)
    shifted = [p for p in data.source if data.end(p) != data.target[p][-1].offset + 1]
    assert shifted, "target offsets equal source offsets everywhere: no transaction markers?"
    return data


ORDERS = "orders"
ORDERS_PARTITIONS = 3
ORDERS_RECORDS = 5000


@pytest.fixture(scope="module")
def orders(regions) -> Replicated:
    """5000 records over 3 partitions, replicated; shared by the tests that only read it."""
    return replicate_new_topic(regions, ORDERS, ORDERS_PARTITIONS, ORDERS_RECORDS, bursts=10)


# ---------------------------------------------------------------------------------------------
# Tests


def test_a_group_fails_over_to_the_target_without_gap_or_duplicate(regions, orders):
    group = "billing"
    consumer = Consumer({"bootstrap.servers": regions.source.bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe([ORDERS])
    processed: list[bytes] = []
    position: dict[int, int] = {}
    deadline = time.monotonic() + WAIT_S
    while len(processed) < 2000:
        assert time.monotonic() < deadline, f"the source consumer got {len(processed)} records"
        msg = consumer.poll(1.0)
        if msg is None or msg.error():
            continue
        processed.append(msg.value())
        position[msg.partition()] = msg.offset() + 1
    done = {p: position.get(p, 0) for p in range(ORDERS_PARTITIONS)}
    consumer.commit(offsets=[TopicPartition(ORDERS, p, o) for p, o in done.items()],
                    asynchronous=False)
    consumer.close()

    expected = orders.translate_all(done)
    assert any(expected[(orders.target_topic, p)] != o for p, o in done.items()), \
        f"translation is the identity for {done}: the test would prove nothing"
    wait_committed(regions, group, expected)

    # The same group on the target; "latest" would skip everything if an offset were missing.
    consumer = Consumer({"bootstrap.servers": regions.target.bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "latest"})
    consumer.subscribe([orders.target_topic])
    rest: list[bytes] = []
    want = ORDERS_RECORDS - len(processed)
    deadline = time.monotonic() + WAIT_S
    while len(rest) < want and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            rest.append(msg.value())
    settle = time.monotonic() + 3  # anything delivered twice would show up now
    while time.monotonic() < settle:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            rest.append(msg.value())
    consumer.close()

    seen = Counter(processed + rest)
    duplicates = sorted(v for v, n in seen.items() if n > 1)
    missing = sorted(set(orders.values()) - set(seen))
    assert not duplicates, f"{len(duplicates)} records read twice, e.g. {duplicates[:5]}"
    assert not missing, f"{len(missing)} records never read, e.g. {missing[:5]} " \
        f"(source committed {done}, target read {len(rest)})"
    assert sorted(seen) == sorted(orders.values())


def test_an_active_target_group_is_left_alone_and_never_moved_backwards(regions, orders):
    group, p = "audit", 0
    source, target = regions.source.bootstrap, regions.target.bootstrap
    active = Consumer({"bootstrap.servers": target, "group.id": group,
                       "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        active.subscribe([orders.target_topic])
        wait_for(lambda: active.poll(0.2) is not None or bool(active.assignment()),
                 "the target consumer joined", regions)
        own = orders.translate(p, 100)
        active.commit(offsets=[TopicPartition(orders.target_topic, p, own)], asynchronous=False)
        assert group_state(target, group) == ConsumerGroupState.STABLE

        commit(source, group, ORDERS, {p: 500})
        wait_checkpoint(regions, group, orders.target_topic, p, upstream=500)
        settle = time.monotonic() + SEVERAL_SYNC_ROUNDS_S
        while time.monotonic() < settle:
            active.poll(0.2)
        assert committed(target, group)[(orders.target_topic, p)] == own, \
            "the replicator moved a group that has active members on the target"
    finally:
        active.close()

    # Empty now: the replicator takes over.
    wait_committed(regions, group, orders.translate_all({p: 500}))

    # Never backwards: the target went further on its own; a lower source commit is ignored.
    higher = orders.translate(p, 900)
    commit(target, group, orders.target_topic, {p: higher})
    commit(source, group, ORDERS, {p: 700})
    checkpoint = wait_checkpoint(regions, group, orders.target_topic, p, upstream=700)
    assert checkpoint.downstream == orders.translate(p, 700)
    time.sleep(SEVERAL_SYNC_ROUNDS_S)
    assert committed(target, group)[(orders.target_topic, p)] == higher, \
        "the replicator moved a target group's offset backwards"


def test_an_excluded_group_gets_nothing_on_the_target(regions, orders):
    excluded, included = "private.payroll", "public.payroll"
    commit(regions.source.bootstrap, excluded, ORDERS, {0: 300, 1: 300})
    commit(regions.source.bootstrap, included, ORDERS, {0: 300, 1: 300})
    # A round that sees the later commit has listed the earlier one too.
    wait_committed(regions, included, orders.translate_all({0: 300, 1: 300}))
    time.sleep(SEVERAL_SYNC_ROUNDS_S)

    assert committed(regions.target.bootstrap, excluded) == {}
    assert not [c for c in checkpoints(regions) if c.group == excluded]
    client = admin(regions.target.bootstrap)
    listed = client.list_consumer_groups().result(timeout=30)
    assert excluded not in {g.group_id for g in listed.valid}


def test_checkpoints_are_mirrormaker2_records_its_client_translates_with(regions, orders):
    group = "mm2-reader"
    chosen = {0: 1, 1: 777, 2: orders.end(2)}  # near the start, in the middle, at the end
    commit(regions.source.bootstrap, group, ORDERS, chosen)
    expected = orders.translate_all(chosen)
    wait_committed(regions, group, expected)

    # Raw records, decoded as MirrorMaker 2 lays them out; every one of them must decode.
    every = checkpoints(regions)
    assert every, f"{CHECKPOINTS_TOPIC} is empty"
    assert {c.metadata for c in every} == {""}
    latest = latest_checkpoints(regions, group)
    assert {k: (c.upstream, c.downstream) for k, c in latest.items()} == \
        {(orders.target_topic, p): (o, expected[(orders.target_topic, p)])
         for p, o in chosen.items()}
    on_target = committed(regions.target.bootstrap, group)
    assert {k: c.downstream for k, c in latest.items()} == on_target

    # MirrorMaker 2's own client reads them the same way.
    assert mm2_translate(regions.target.bootstrap, SOURCE_ALIAS, group) == expected


def test_an_offset_beyond_what_was_replicated_is_not_guessed(regions, orders):
    group = "ahead"
    # Kafka accepts a commit past a partition's end; the replicator has nothing to map it to.
    commit(regions.source.bootstrap, group, ORDERS, {0: orders.end(0) + 1000, 1: 5})
    wait_committed(regions, group, orders.translate_all({1: 5}))
    time.sleep(SEVERAL_SYNC_ROUNDS_S)
    assert (orders.target_topic, 0) not in committed(regions.target.bootstrap, group)
    assert (orders.target_topic, 0) not in latest_checkpoints(regions, group)


def test_offset_syncs_pair_the_same_record_on_both_sides(regions, orders):
    records = read_topic(regions.target.bootstrap, OFFSET_SYNCS_TOPIC)
    assert list(records) == [0], f"{OFFSET_SYNCS_TOPIC} partitions: {sorted(records)}"
    syncs = [decode_offset_sync(r) for r in records[0]]
    ours = [s for s in syncs if s.topic in (ORDERS, orders.target_topic)]
    by_partition: dict[int, list[OffsetSync]] = {}
    for s in ours:
        by_partition.setdefault(s.partition, []).append(s)
    assert sorted(by_partition) == list(range(ORDERS_PARTITIONS)), \
        f"offset-syncs for partitions {sorted(by_partition)}; topics seen: " \
        f"{sorted({s.topic for s in syncs})}"

    for p, partition_syncs in by_partition.items():
        source_at = {r.offset: r.value for r in orders.source[p]}
        target_at = {r.offset: r.value for r in orders.target[p]}
        assert partition_syncs[0].upstream == 0, f"partition {p} starts at {partition_syncs[0]}"
        previous = None
        for s in partition_syncs:
            assert s.upstream in source_at and s.downstream in target_at, s
            assert source_at[s.upstream] == target_at[s.downstream], \
                f"{s}: source has {source_at[s.upstream]!r}, target {target_at[s.downstream]!r}"
            assert s.downstream >= s.upstream, s
            if previous is not None:
                assert s.upstream > previous.upstream and s.downstream > previous.downstream, \
                    f"{previous} then {s}"
            previous = s
        assert len(partition_syncs) > 1, f"partition {p}: one sync for several transactions"

    # MirrorMaker 2 keys an offset sync by the upstream partition (MirrorSourceTask syncs the
    # record's source partition; MirrorCheckpointTask looks syncs up by the group's source
    # partition), so the name is the source topic's, not the renamed one.
    assert {s.topic for s in ours} == {ORDERS}, \
        f"offset-syncs keyed by {sorted({s.topic for s in ours})}, MirrorMaker 2 uses {ORDERS!r}"


def test_heartbeats_and_internal_topics_follow_mirrormaker2(regions, orders):
    records = read_topic(regions.target.bootstrap, HEARTBEATS_TOPIC)
    assert list(records) == [0] and records[0], f"{HEARTBEATS_TOPIC}: {records}"
    now_ms = time.time() * 1000
    for r in records[0][-5:]:
        key, value = Fields(r.key, "heartbeat key"), Fields(r.value, "heartbeat value")
        assert (key.string(), key.string()) == (SOURCE_ALIAS, TARGET_ALIAS)
        key.end()
        assert value.int16() == 0
        assert abs(value.int64() - now_ms) < 10 * 60 * 1000
        value.end()

    internal = [CHECKPOINTS_TOPIC, OFFSET_SYNCS_TOPIC, HEARTBEATS_TOPIC]
    client = admin(regions.target.bootstrap)
    metadata = client.list_topics(timeout=15).topics
    for topic in internal:
        assert len(metadata[topic].partitions) == 1, topic
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in internal]
    for resource, future in client.describe_configs(resources).items():
        policy = future.result(timeout=30)["cleanup.policy"].value
        assert policy == "compact", f"{resource}: cleanup.policy={policy}"


def test_translation_continues_after_a_restart(regions):
    topic = "restart"
    data = replicate_new_topic(regions, topic, partitions=2, n=400, bursts=4)
    commit(regions.source.bootstrap, "restart-early", topic, {0: 60, 1: 140})
    wait_committed(regions, "restart-early", data.translate_all({0: 60, 1: 140}))

    assert regions.replicator.stop() == 0, regions.replicator.process.log_tail()
    regions.replicator.start()
    produce_while_replicating(regions, topic, 400, 400, partitions=2, bursts=4)
    data = wait_replicated(regions, topic, 800)

    # 200 records per partition came before the restart, 200 after; offset 200 is the first
    # record the restarted replicator copied.
    late = {0: 200, 1: 390}
    commit(regions.source.bootstrap, "restart-late", topic, late)
    commit(regions.source.bootstrap, "restart-early", topic, {0: 150, 1: 250})
    wait_committed(regions, "restart-late", data.translate_all(late))
    wait_committed(regions, "restart-early", data.translate_all({0: 150, 1: 250}))
    latest = latest_checkpoints(regions, "restart-late")
    assert {k: (c.upstream, c.downstream) for k, c in latest.items()} == {
        (data.target_topic, p): (o, data.translate(p, o)) for p, o in late.items()}


def test_a_deleted_state_dir_resumes_from_the_targets_progress(regions, orders):
    topic = "wiped"
    replicate_new_topic(regions, topic, partitions=2, n=400, bursts=4)
    replicator = regions.replicator
    log_before = len(replicator.log_text())

    assert replicator.stop() == 0, replicator.process.log_tail()
    shutil.rmtree(replicator.state_dir)
    produce(regions.source.bootstrap, topic, 400, 400, 2)
    replicator.start()

    data = wait_replicated(regions, topic, 800)
    time.sleep(SEVERAL_SYNC_ROUNDS_S)  # a re-copy from scratch would be under way by now
    again = read_topic(regions.target.bootstrap, data.target_topic)
    assert count(again) == 800, f"{data.target_topic} grew to {count(again)} records"
    assert count(read_topic(regions.target.bootstrap, orders.target_topic)) == ORDERS_RECORDS, \
        f"{orders.target_topic} was copied again"

    log = replicator.log_text()[log_before:]
    behind = [line for line in log.splitlines()
              if "state dir is behind the progress committed on the target" in line]
    assert any(f"{topic}[0]" in line for line in behind) and \
        any(f"{topic}[1]" in line for line in behind), \
        "the log does not say the state dir was behind the target:\n" + log[-4000:]

    # Offsets translate exactly again: those copied after the restart, and those copied before
    # the state dir was lost (its offset map is rebuilt from the offset-syncs on the target).
    # Offset 200 is the first record copied after the state dir was lost.
    commit(regions.source.bootstrap, "wiped-readers", topic, {0: 100, 1: 200})
    wait_committed(regions, "wiped-readers", data.translate_all({0: 100, 1: 200}))
    commit(regions.source.bootstrap, "wiped-readers", topic, {0: 300, 1: 350})
    wait_committed(regions, "wiped-readers", data.translate_all({0: 300, 1: 350}))
    commit(regions.source.bootstrap, "orders-after-wipe", ORDERS, {0: 1234, 2: 10})
    wait_committed(regions, "orders-after-wipe", orders.translate_all({0: 1234, 2: 10}))


def test_a_target_topic_deleted_while_stopped_is_copied_again_in_full(regions):
    """The state dir says 400 records were copied, but the target topic that held them is
    gone (deleted, then re-created empty by the topic sync): the replicator must copy them
    again, not resume after them and leave the target without its first 400."""
    topic = "lost-on-target"
    replicate_new_topic(regions, topic, partitions=2, n=400, bursts=4)
    replicator = regions.replicator
    log_before = len(replicator.log_text())

    assert replicator.stop() == 0, replicator.process.log_tail()
    delete_topic(regions.target.bootstrap, target_name(topic))
    wait_until(lambda: target_name(topic) not in topic_names(regions.target.bootstrap), 30,
               f"{target_name(topic)} deleted on the target")
    produce(regions.source.bootstrap, topic, 400, 400, 2)
    replicator.start()

    data = wait_replicated(regions, topic, 800)  # record by record, in order, no duplicate
    log = replicator.log_text()[log_before:]
    reset = [line for line in log.splitlines() if "state dir says records were copied" in line]
    assert any(f"{topic}[0]" in line for line in reset) and \
        any(f"{topic}[1]" in line for line in reset), \
        "the log does not say the target lost records:\n" + log[-4000:]

    # The offset map describes the new target log: offsets translate exactly.
    commit(regions.source.bootstrap, "lost-on-target-readers", topic, {0: 100, 1: 350})
    wait_committed(regions, "lost-on-target-readers", data.translate_all({0: 100, 1: 350}))
