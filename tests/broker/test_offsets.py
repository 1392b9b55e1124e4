"""Committed consumer offsets on tern-broker: confluent-kafka and kafka-python consumers in
assign mode commit and read back offsets; commits survive kill -9; Kafka's
kafka-consumer-groups lists, describes (with lag), resets and deletes; __consumer_offsets
decodes with Kafka's OffsetsMessageFormatter, each group in the partition Kafka would put it
in; every version of the offset and group APIs, and their errors, byte by byte.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from confluent_kafka import (OFFSET_INVALID, ConsumerGroupTopicPartitions, KafkaError,
                             KafkaException, TopicCollection, TopicPartition)
from confluent_kafka.admin import AdminClient

from harness.tern import TernBroker
from kafka_python_wire import Wire
from tern_fixtures import (OFFSETS_PARTITIONS, OFFSETS_TOPIC, Rec, consumer, create_topic,
                           formatted_records, produce_all, producer, read_offsets_partition,
                           tern, tern_module, tool)

__all__ = ["tern", "tern_module"]  # the fixtures, imported for pytest

# Kafka error codes (apache/kafka Errors.java).
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
GROUP_ID_NOT_FOUND = 69
UNKNOWN_TOPIC_ID = 100


def groups_tool(broker, *args: str, check: bool = True) -> str:
    return tool("kafka-consumer-groups", "--bootstrap-server", broker.bootstrap, *args,
                check=check)


def fill(broker, topic: str, partitions: int, per_partition: int) -> None:
    create_topic(broker.bootstrap, topic, partitions)
    records = [Rec(p, i, None, f"{p}-{i}".encode()) for p in range(partitions)
               for i in range(per_partition)]
    produce_all(producer(broker.bootstrap), topic, records)


def commit(broker, group: str, offsets: list[TopicPartition]) -> list[TopicPartition]:
    """Commits synchronously from an assign-mode confluent-kafka consumer; returns its answer."""
    c = consumer(broker.bootstrap, group_id=group)
    try:
        c.assign([TopicPartition(tp.topic, tp.partition) for tp in offsets])
        return c.commit(offsets=offsets, asynchronous=False)
    finally:
        c.close()


def committed(broker, group: str,
              partitions: list[TopicPartition]) -> dict[tuple[str, int], TopicPartition]:
    c = consumer(broker.bootstrap, group_id=group)
    try:
        got = c.committed(partitions, timeout=30)
    finally:
        c.close()
    return {(tp.topic, tp.partition): tp for tp in got}


def describe_rows(output: str, group: str) -> dict[tuple[str, int], tuple[str, str, str]]:
    """kafka-consumer-groups --describe: {(topic, partition): (current, log end, lag)}."""
    rows = {}
    for line in output.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group and cols[2].isdigit():
            rows[(cols[1], int(cols[2]))] = (cols[3], cols[4], cols[5])
    return rows


# --- clients ----------------------------------------------------------------------------------

def test_confluent_kafka_commits_and_a_new_consumer_reads_them_back(tern_module):
    b, topic, group = tern_module, "off-confluent", "g-confluent"
    fill(b, topic, 3, 10)
    # Consume some records, then commit explicit offsets with metadata and leader epoch.
    c = consumer(b.bootstrap, group_id=group)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(3)])
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 30 and time.monotonic() < deadline:
            for m in c.consume(num_messages=100, timeout=1.0):
                if m.error() is None:
                    seen += 1
        assert seen == 30
        answer = c.commit(offsets=[TopicPartition(topic, 0, 4, metadata="zero"),
                                   TopicPartition(topic, 1, 10, leader_epoch=0),
                                   TopicPartition(topic, 2, 7)], asynchronous=False)
        assert all(tp.error is None for tp in answer), answer
        c.commit(asynchronous=False)  # the consumer's own position: 10 everywhere
        c.commit(offsets=[TopicPartition(topic, 0, 4, metadata="zero")], asynchronous=False)
    finally:
        c.close()

    got = committed(b, group, [TopicPartition(topic, p) for p in range(3)])
    assert got[(topic, 0)].offset == 4 and got[(topic, 0)].metadata == "zero"
    assert got[(topic, 1)].offset == 10
    assert got[(topic, 2)].offset == 10
    # Another group, and a partition never committed: no offset.
    other = committed(b, "g-confluent-other", [TopicPartition(topic, 0)])
    assert other[(topic, 0)].offset == OFFSET_INVALID

    # A new consumer without a starting offset resumes from the committed ones.
    c = consumer(b.bootstrap, group_id=group)
    try:
        c.assign([TopicPartition(topic, 0)])
        m = None
        deadline = time.monotonic() + 30
        while m is None and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is not None and m.error() is not None:
                m = None
        assert m is not None and m.offset() == 4 and m.value() == b"0-4"
    finally:
        c.close()


def test_commit_to_an_unknown_partition_fails_for_that_partition(tern_module):
    b, topic, group = tern_module, "off-unknown-partition", "g-unknown-partition"
    fill(b, topic, 1, 1)
    with pytest.raises(KafkaException) as failure:
        commit(b, group, [TopicPartition(topic, 0, 1), TopicPartition(topic, 5, 1)])
    assert failure.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    # The partition that exists was committed all the same.
    assert committed(b, group, [TopicPartition(topic, 0)])[(topic, 0)].offset == 1


def test_kafka_python_commit_and_committed(tern_module):
    from kafka import KafkaConsumer, TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata
    b, topic, group = tern_module, "off-kafka-python", "g-kafka-python"
    fill(b, topic, 2, 5)
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        c.assign([KTP(topic, 0), KTP(topic, 1)])
        c.commit({KTP(topic, 0): OffsetAndMetadata(3, "kp", -1),
                  KTP(topic, 1): OffsetAndMetadata(5, "", -1)})
    finally:
        c.close()
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        assert c.committed(KTP(topic, 0)) == 3
        assert c.committed(KTP(topic, 1)) == 5
        assert c.committed(KTP(topic, 0), metadata=True).metadata == "kp"
    finally:
        c.close()
    # And confluent-kafka sees what kafka-python committed. (Only the offset: confluent-kafka's
    # Python binding reads metadata as a NUL-terminated string, which kafka-python's is not.)
    got = committed(b, group, [TopicPartition(topic, 1)])
    assert got[(topic, 1)].offset == 5


# --- durability -------------------------------------------------------------------------------

def test_committed_offsets_survive_kill_9(tern):
    topic, group = "off-durable", "g-durable"
    fill(tern, topic, 2, 3)
    for i in range(20):  # many writes, so the rebuild replays a history of each key
        commit(tern, group, [TopicPartition(topic, 0, i), TopicPartition(topic, 1, 100 + i)])
    commit(tern, "g-durable-2", [TopicPartition(topic, 1, 2, metadata="m2")])
    tern.kill()
    tern.restart()
    got = committed(tern, group, [TopicPartition(topic, 0), TopicPartition(topic, 1)])
    assert (got[(topic, 0)].offset, got[(topic, 1)].offset) == (19, 119)
    got = committed(tern, "g-durable-2", [TopicPartition(topic, 1)])
    assert (got[(topic, 1)].offset, got[(topic, 1)].metadata) == (2, "m2")
    assert "loaded 3 committed offsets of 2 groups" in tern.log_text()

    # Commits continue after the restart, and a clean stop keeps them too.
    commit(tern, group, [TopicPartition(topic, 0, 50)])
    tern.stop()
    tern.restart()
    got = committed(tern, group, [TopicPartition(topic, 0)])
    assert got[(topic, 0)].offset == 50


def test_offsets_topic_exists_compacted_with_50_partitions(tern_module):
    out = tool("kafka-topics", "--bootstrap-server", tern_module.bootstrap, "--describe",
               "--topic", OFFSETS_TOPIC)
    assert f"PartitionCount: {OFFSETS_PARTITIONS}" in out, out
    assert "cleanup.policy=compact" in out, out


def test_clients_cannot_write_to_the_offsets_topic(tern_module):
    """As in Kafka, only the broker appends to __consumer_offsets: a client's produce is
    refused with INVALID_TOPIC_EXCEPTION and nothing is written."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": tern_module.bootstrap, "enable.idempotence": False,
                  "message.send.max.retries": 0})
    errors = []
    p.produce(OFFSETS_TOPIC, value=b"not an offset record", partition=0,
              on_delivery=lambda err, _msg: errors.append(err))
    assert p.flush(30) == 0
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_EXCEPTION, errors[0]


def test_expired_offsets_are_removed(tmp_path):
    broker = TernBroker(tmp_path / "tern", {"offsets.retention_minutes": 1,
                                            "offsets.retention_check_interval_ms": 500})
    broker.start()
    try:
        topic, group = "off-expiry", "g-expiry"
        fill(broker, topic, 1, 1)
        commit(broker, group, [TopicPartition(topic, 0, 1)])
        assert group in groups_tool(broker, "--list")
        deadline = time.monotonic() + 120
        while group in groups_tool(broker, "--list") and time.monotonic() < deadline:
            time.sleep(2)
        assert group not in groups_tool(broker, "--list")
        assert "expired 1 offsets of group g-expiry; the group is gone" in broker.log_text()
        got = committed(broker, group, [TopicPartition(topic, 0)])
        assert got[(topic, 0)].offset == OFFSET_INVALID
    finally:
        broker.stop()


# --- kafka-consumer-groups --------------------------------------------------------------------

def test_consumer_groups_tool_lists_and_describes_with_lag(tern_module):
    b, topic, group = tern_module, "off-describe", "g-describe"
    fill(b, topic, 3, 10)
    commit(b, group, [TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 4)])

    listed = groups_tool(b, "--list")
    assert group in listed.split(), listed
    state = groups_tool(b, "--list", "--state")
    assert re.search(rf"^{group}\s+Empty\s*$", state, re.M), state

    described = groups_tool(b, "--describe", "--group", group)
    rows = describe_rows(described, group)
    assert rows[(topic, 0)] == ("10", "10", "0"), described
    assert rows[(topic, 1)] == ("4", "10", "6"), described
    assert (topic, 2) not in rows, described

    offsets = groups_tool(b, "--describe", "--group", group, "--offsets")
    assert describe_rows(offsets, group)[(topic, 1)] == ("4", "10", "6"), offsets
    state = groups_tool(b, "--describe", "--group", group, "--state")
    assert "Empty" in state, state

    # Since DescribeGroups v6 (KIP-1043) a missing group is GROUP_ID_NOT_FOUND, which the tool
    # reports as such.
    missing = groups_tool(b, "--describe", "--group", "g-never-committed", check=False)
    assert "GroupIdNotFoundException: Group g-never-committed not found." in missing, missing


def test_consumer_groups_tool_resets_offsets(tern_module):
    b, topic, group = tern_module, "off-reset", "g-reset"
    fill(b, topic, 2, 10)
    commit(b, group, [TopicPartition(topic, 0, 8), TopicPartition(topic, 1, 9)])

    planned = groups_tool(b, "--reset-offsets", "--group", group, "--topic", topic,
                          "--to-earliest", "--dry-run")
    got = committed(b, group, [TopicPartition(topic, 0)])
    assert got[(topic, 0)].offset == 8, planned  # a dry run changes nothing

    groups_tool(b, "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest",
                "--execute")
    got = committed(b, group, [TopicPartition(topic, p) for p in range(2)])
    assert [got[(topic, p)].offset for p in range(2)] == [0, 0]

    groups_tool(b, "--reset-offsets", "--group", group, "--topic", f"{topic}:1",
                "--to-offset", "6", "--execute")
    groups_tool(b, "--reset-offsets", "--group", group, "--topic", f"{topic}:0",
                "--to-latest", "--execute")
    got = committed(b, group, [TopicPartition(topic, p) for p in range(2)])
    assert [got[(topic, p)].offset for p in range(2)] == [10, 6]

    # A group that never committed can be given offsets too.
    groups_tool(b, "--reset-offsets", "--group", "g-reset-new", "--topic", topic,
                "--to-offset", "3", "--execute")
    got = committed(b, "g-reset-new", [TopicPartition(topic, p) for p in range(2)])
    assert [got[(topic, p)].offset for p in range(2)] == [3, 3]


def test_consumer_groups_tool_deletes_offsets_and_groups(tern_module):
    b, topic, other, group = tern_module, "off-delete", "off-delete-other", "g-delete"
    fill(b, topic, 2, 3)
    fill(b, other, 1, 3)
    commit(b, group, [TopicPartition(topic, 0, 1), TopicPartition(topic, 1, 2),
                      TopicPartition(other, 0, 3)])

    out = groups_tool(b, "--delete-offsets", "--group", group, "--topic", topic)
    assert "Successful" in out or "succeed" in out, out
    got = committed(b, group, [TopicPartition(topic, 0), TopicPartition(topic, 1),
                               TopicPartition(other, 0)])
    assert got[(topic, 0)].offset == OFFSET_INVALID
    assert got[(topic, 1)].offset == OFFSET_INVALID
    assert got[(other, 0)].offset == 3
    assert group in groups_tool(b, "--list").split()

    out = groups_tool(b, "--delete", "--group", group)
    assert "successful" in out, out
    assert group not in groups_tool(b, "--list").split()
    got = committed(b, group, [TopicPartition(other, 0)])
    assert got[(other, 0)].offset == OFFSET_INVALID

    out = groups_tool(b, "--delete", "--group", group, check=False)
    assert "GroupIdNotFound" in out or "does not exist" in out, out


def test_deleting_a_topic_removes_its_offsets_from_every_group(tern_module):
    b, topic, kept = tern_module, "off-topic-deleted", "off-topic-kept"
    fill(b, topic, 2, 1)
    fill(b, kept, 1, 1)
    commit(b, "g-topic-deleted-1", [TopicPartition(topic, 0, 1), TopicPartition(kept, 0, 1)])
    commit(b, "g-topic-deleted-2", [TopicPartition(topic, 1, 1)])
    tool("kafka-topics", "--bootstrap-server", b.bootstrap, "--delete", "--topic", topic)
    listed = groups_tool(b, "--list").split()
    assert "g-topic-deleted-1" in listed and "g-topic-deleted-2" not in listed
    rows = describe_rows(groups_tool(b, "--describe", "--group", "g-topic-deleted-1"),
                         "g-topic-deleted-1")
    assert list(rows) == [(kept, 0)], rows


def test_admin_client_lists_describes_and_deletes_groups(tern_module):
    b, topic, group = tern_module, "off-admin", "g-admin"
    fill(b, topic, 1, 2)
    commit(b, group, [TopicPartition(topic, 0, 2)])
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    listed = admin.list_consumer_groups().result(timeout=30)
    assert group in [g.group_id for g in listed.valid]
    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert described.state.name == "EMPTY" and described.members == []
    offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    tps = offsets[group].result(timeout=30).topic_partitions
    assert [(tp.topic, tp.partition, tp.offset) for tp in tps] == [(topic, 0, 2)]
    admin.delete_consumer_groups([group])[group].result(timeout=30)
    with pytest.raises(KafkaException) as failure:
        admin.delete_consumer_groups([group])[group].result(timeout=30)
    assert failure.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND


# --- __consumer_offsets -----------------------------------------------------------------------

def test_offsets_topic_decodes_with_kafkas_formatter_in_kafkas_partition(tern_module):
    b, topic = tern_module, "off-formatter"
    group = f"g-formatter-{uuid.uuid4().hex[:8]}"
    fill(b, topic, 2, 5)
    commit(b, group, [TopicPartition(topic, 0, 3, metadata="meta-0"),
                      TopicPartition(topic, 1, 5)])
    groups_tool(b, "--delete-offsets", "--group", group, "--topic", f"{topic}:1")

    out = read_offsets_partition(b, group)
    mine = formatted_records(out, group)
    assert len(mine) == 3, out
    first, second, tombstone = mine
    assert first["key"] == {"type": 1, "data": {"group": group, "topic": topic, "partition": 0}}
    assert first["value"]["version"] == 3
    value = first["value"]["data"]
    # confluent-kafka's Python binding sends the metadata's terminating NUL along.
    assert (value["offset"], value["leaderEpoch"], value["metadata"].rstrip("\0")) == \
        (3, -1, "meta-0")
    assert abs(value["commitTimestamp"] - time.time() * 1000) < 600_000
    assert second["key"]["data"]["partition"] == 1 and second["value"]["data"]["offset"] == 5
    assert tombstone["key"]["data"]["partition"] == 1 and tombstone["value"] is None


# --- the APIs, version by version -------------------------------------------------------------

@pytest.fixture
def wire(tern_module):
    w = Wire(tern_module.bootstrap)
    yield w
    w.close()


def topic_id(broker, topic: str) -> uuid.UUID:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    described = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=30)
    tid = described.topic_id
    return uuid.UUID(bytes=tid.get_most_significant_bits().to_bytes(8, "big", signed=True)
                     + tid.get_least_significant_bits().to_bytes(8, "big", signed=True))


def offset_commit(wire, version, group, topic, partitions, generation=-1, member="",
                  retention=-1, tid=None):
    from kafka.protocol.consumer.group import OffsetCommitRequest, OffsetCommitResponse
    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    topics = [T(name=topic, topic_id=tid,
                partitions=[P(partition_index=p, committed_offset=o, committed_leader_epoch=e,
                              committed_metadata=m) for p, o, e, m in partitions])]
    fields = dict(group_id=group, generation_id_or_member_epoch=generation, member_id=member,
                  topics=topics)
    if version >= 7:
        fields["group_instance_id"] = None
    if version <= 4:
        fields["retention_time_ms"] = retention
    r = wire.call(OffsetCommitRequest, OffsetCommitResponse, version, **fields)
    return {(t.name if version < 10 else t.topic_id, p.partition_index): p.error_code
            for t in r.topics for p in t.partitions}


def offset_fetch(wire, version, group, topic=None, partitions=None, tid=None):
    """{(topic or id, partition): (offset, epoch, metadata, error)}, and the group error."""
    from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse
    if version < 8:
        T = OffsetFetchRequest.OffsetFetchRequestTopic
        topics = None if topic is None else [T(name=topic, partition_indexes=partitions)]
        fields = dict(group_id=group, topics=topics)
        if version >= 7:
            fields["require_stable"] = True
        r = wire.call(OffsetFetchRequest, OffsetFetchResponse, version, **fields)
        out = {(t.name, p.partition_index): (p.committed_offset,
                                             p.committed_leader_epoch if version >= 5 else None,
                                             p.metadata, p.error_code)
               for t in r.topics for p in t.partitions}
        return out, (r.error_code if version >= 2 else None)
    G = OffsetFetchRequest.OffsetFetchRequestGroup
    T = G.OffsetFetchRequestTopics
    topics = None if topic is None and tid is None else [
        T(name=topic, topic_id=tid, partition_indexes=partitions)]
    g = dict(group_id=group, topics=topics)
    if version >= 9:
        g.update(member_id=None, member_epoch=-1)
    r = wire.call(OffsetFetchRequest, OffsetFetchResponse, version, groups=[G(**g)],
                  require_stable=True)
    (group_answer,) = r.groups
    out = {(t.name if version < 10 else t.topic_id, p.partition_index):
           (p.committed_offset, p.committed_leader_epoch, p.metadata, p.error_code)
           for t in group_answer.topics for p in t.partitions}
    return out, group_answer.error_code


def test_every_offset_commit_version_is_read_by_every_offset_fetch_version(tern_module, wire):
    b, topic = tern_module, "off-versions"
    fill(b, topic, 2, 1)
    tid = topic_id(b, topic)
    for commit_version in range(2, 11):
        group = f"g-versions-{commit_version}"
        errors = offset_commit(wire, commit_version, group, topic if commit_version < 10 else "",
                               [(0, 100 + commit_version, 7, f"m{commit_version}"),
                                (1, 200, -1, None)],
                               tid=tid if commit_version >= 10 else None)
        key = topic if commit_version < 10 else tid
        assert errors == {(key, 0): NONE, (key, 1): NONE}, commit_version
        epoch = 7 if commit_version >= 6 else -1
        for fetch_version in range(1, 11):
            if fetch_version >= 10:
                got, error = offset_fetch(wire, fetch_version, group, tid=tid, partitions=[0, 1, 2])
                k = tid
            else:
                got, error = offset_fetch(wire, fetch_version, group, topic, [0, 1, 2])
                k = topic
            assert error in (None, NONE)
            want_epoch = epoch if fetch_version >= 5 else None
            assert got[(k, 0)] == (100 + commit_version, want_epoch, f"m{commit_version}", NONE), \
                (commit_version, fetch_version, got)
            assert got[(k, 1)][0] == 200 and got[(k, 1)][2] == ""
            assert got[(k, 2)][0] == -1 and got[(k, 2)][3] == NONE
            if fetch_version >= 2:  # null topics: everything the group committed
                everything, error = offset_fetch(wire, fetch_version, group)
                assert error == NONE
                assert sorted(p for (_, p) in everything) == [0, 1], (fetch_version, everything)


def test_offset_fetch_v8_answers_several_groups(tern_module, wire):
    from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse
    b, topic = tern_module, "off-multi"
    fill(b, topic, 1, 1)
    offset_commit(wire, 8, "g-multi-a", topic, [(0, 11, -1, "a")])
    offset_commit(wire, 8, "g-multi-b", topic, [(0, 22, -1, "b")])
    G = OffsetFetchRequest.OffsetFetchRequestGroup
    T = G.OffsetFetchRequestTopics
    r = wire.call(OffsetFetchRequest, OffsetFetchResponse, 8, require_stable=False, groups=[
        G(group_id="g-multi-a", topics=[T(name=topic, partition_indexes=[0])]),
        G(group_id="g-multi-b", topics=None),
        G(group_id="g-multi-none", topics=None),
        G(group_id="", topics=None)])
    answers = {g.group_id: g for g in r.groups}
    assert answers["g-multi-a"].topics[0].partitions[0].committed_offset == 11
    assert answers["g-multi-b"].topics[0].partitions[0].committed_offset == 22
    assert answers["g-multi-b"].topics[0].partitions[0].metadata == "b"
    assert answers["g-multi-none"].topics == [] and answers["g-multi-none"].error_code == NONE
    assert answers[""].error_code == INVALID_GROUP_ID


def test_offset_commit_errors(tern_module, wire):
    b, topic = tern_module, "off-errors"
    fill(b, topic, 1, 1)
    for version in (2, 7, 8, 9):
        assert offset_commit(wire, version, "", topic, [(0, 1, -1, "")]) == \
            {(topic, 0): INVALID_GROUP_ID}
        assert offset_commit(wire, version, "g-errors", "no-such-topic", [(0, 1, -1, "")]) == \
            {("no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION}
        got = offset_commit(wire, version, "g-errors", topic,
                            [(0, 1, -1, "x" * 4097), (3, 1, -1, ""), (0, 2, -1, "x" * 4096)])
        assert got == {(topic, 0): NONE, (topic, 3): UNKNOWN_TOPIC_OR_PARTITION}, got
    got = offset_commit(wire, 8, "g-errors", topic, [(0, 5, -1, "y" * 4097)])
    assert got == {(topic, 0): OFFSET_METADATA_TOO_LARGE}
    # A generation: no member of the (empty) group has it.
    assert offset_commit(wire, 8, "g-errors", topic, [(0, 1, -1, "")], generation=3,
                         member="m-1") == {(topic, 0): UNKNOWN_MEMBER_ID}
    assert offset_commit(wire, 8, "g-errors-new", topic, [(0, 1, -1, "")], generation=3) == \
        {(topic, 0): ILLEGAL_GENERATION}
    assert offset_commit(wire, 9, "g-errors-new", topic, [(0, 1, -1, "")], generation=3) == \
        {(topic, 0): GROUP_ID_NOT_FOUND}
    # A member id with generation -1 is accepted: the admin client and simple consumers.
    assert offset_commit(wire, 9, "g-errors", topic, [(0, 9, -1, "")], member="m-x") == \
        {(topic, 0): NONE}
    unknown_id = uuid.uuid4()
    assert offset_commit(wire, 10, "g-errors", "", [(0, 1, -1, "")], tid=unknown_id) == \
        {(unknown_id, 0): UNKNOWN_TOPIC_ID}
    got, error = offset_fetch(wire, 10, "g-errors", tid=unknown_id, partitions=[0])
    assert error == NONE and got[(unknown_id, 0)][3] == UNKNOWN_TOPIC_ID
    got, error = offset_fetch(wire, 8, "g-errors", topic, [0])
    assert got[(topic, 0)][0] == 9
    got, error = offset_fetch(wire, 7, "", topic, [0])
    assert error == INVALID_GROUP_ID
    got, error = offset_fetch(wire, 1, "", topic, [0])
    assert got[(topic, 0)][3] == INVALID_GROUP_ID


def test_v2_retention_time_is_kept_as_an_expiry_record(tern_module, wire):
    b, topic = tern_module, "off-retention-time"
    fill(b, topic, 1, 1)
    group = "g-retention-time"
    assert offset_commit(wire, 2, group, topic, [(0, 4, -1, "r")], retention=3_600_000) == \
        {(topic, 0): NONE}
    got, _ = offset_fetch(wire, 3, group, topic, [0])
    assert got[(topic, 0)][0] == 4
    out = read_offsets_partition(b, group)
    (record,) = formatted_records(out, group)
    assert record["value"]["version"] == 1, record
    data = record["value"]["data"]
    assert data["expireTimestamp"] - data["commitTimestamp"] == 3_600_000


def test_group_apis_every_version(tern_module, wire):
    from kafka.protocol.admin.groups import (DeleteGroupsRequest, DeleteGroupsResponse,
                                             DescribeGroupsRequest, DescribeGroupsResponse,
                                             ListGroupsRequest, ListGroupsResponse)
    from kafka.protocol.consumer.group import OffsetDeleteRequest, OffsetDeleteResponse
    b, topic = tern_module, "off-group-apis"
    fill(b, topic, 2, 1)
    group = "g-group-apis"
    offset_commit(wire, 8, group, topic, [(0, 1, -1, ""), (1, 1, -1, "")])

    for version in range(0, 6):
        fields = {}
        if version >= 4:
            fields["states_filter"] = []
        if version >= 5:
            fields["types_filter"] = []
        r = wire.call(ListGroupsRequest, ListGroupsResponse, version, **fields)
        assert r.error_code == NONE
        mine = [g for g in r.groups if g.group_id == group]
        assert len(mine) == 1 and mine[0].protocol_type == "consumer", version
        if version >= 4:
            assert mine[0].group_state == "Empty"
        if version >= 5:
            assert mine[0].group_type == "classic"
    for states, found in ((["empty"], True), (["Stable"], False), (["EMPTY", "Dead"], True)):
        r = wire.call(ListGroupsRequest, ListGroupsResponse, 4, states_filter=states)
        assert (group in [g.group_id for g in r.groups]) == found, states
    for types, found in ((["Classic"], True), (["consumer"], False)):
        r = wire.call(ListGroupsRequest, ListGroupsResponse, 5, states_filter=[],
                      types_filter=types)
        assert (group in [g.group_id for g in r.groups]) == found, types

    for version in range(0, 7):
        fields = dict(groups=[group, "g-group-apis-none"])
        if version >= 3:
            fields["include_authorized_operations"] = True
        r = wire.call(DescribeGroupsRequest, DescribeGroupsResponse, version, **fields)
        mine, none = r.groups
        assert (mine.error_code, mine.group_state, mine.protocol_type, mine.members) == \
            (NONE, "Empty", "consumer", []), version
        assert none.group_state == "Dead"
        assert none.error_code == (GROUP_ID_NOT_FOUND if version >= 6 else NONE), version

    r = wire.call(OffsetDeleteRequest, OffsetDeleteResponse, 0, group_id=group, topics=[
        OffsetDeleteRequest.OffsetDeleteRequestTopic(name=topic, partitions=[
            OffsetDeleteRequest.OffsetDeleteRequestTopic.OffsetDeleteRequestPartition(
                partition_index=0),
            OffsetDeleteRequest.OffsetDeleteRequestTopic.OffsetDeleteRequestPartition(
                partition_index=9)])])
    assert r.error_code == NONE
    errors = {(t.name, p.partition_index): p.error_code for t in r.topics for p in t.partitions}
    assert errors == {(topic, 0): NONE, (topic, 9): UNKNOWN_TOPIC_OR_PARTITION}
    got, _ = offset_fetch(wire, 8, group, topic, [0, 1])
    assert (got[(topic, 0)][0], got[(topic, 1)][0]) == (-1, 1)
    r = wire.call(OffsetDeleteRequest, OffsetDeleteResponse, 0, group_id="g-none", topics=[])
    assert r.error_code == GROUP_ID_NOT_FOUND
    r = wire.call(OffsetDeleteRequest, OffsetDeleteResponse, 0, group_id="", topics=[])
    assert r.error_code == INVALID_GROUP_ID

    for version in range(0, 3):
        g = f"{group}-{version}"
        offset_commit(wire, 8, g, topic, [(0, 1, -1, "")])
        r = wire.call(DeleteGroupsRequest, DeleteGroupsResponse, version,
                      groups_names=[g, "g-none"])
        assert {x.group_id: x.error_code for x in r.results} == \
            {g: NONE, "g-none": GROUP_ID_NOT_FOUND}, version
        got, _ = offset_fetch(wire, 8, g)
        assert got == {}


def test_find_coordinator_answers_group_keys_with_this_broker(tern_module, wire):
    from kafka.protocol.metadata import FindCoordinatorRequest, FindCoordinatorResponse
    port = tern_module.port
    for version in range(0, 4):
        fields = dict(key="any-group")
        if version >= 1:
            fields["key_type"] = 0
        r = wire.call(FindCoordinatorRequest, FindCoordinatorResponse, version, **fields)
        assert (r.error_code, r.node_id, r.port) == (NONE, 1, port), version
    for version in range(4, 7):
        r = wire.call(FindCoordinatorRequest, FindCoordinatorResponse, version, key_type=0,
                      coordinator_keys=["a", "b"])
        assert [(c.key, c.error_code, c.node_id, c.port) for c in r.coordinators] == \
            [("a", NONE, 1, port), ("b", NONE, 1, port)], version
