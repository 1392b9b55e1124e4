"""Consumer groups of the consumer rebalance protocol (KIP-848, ConsumerGroupHeartbeat) on
tern-broker, with real clients: librdkafka consumers with group.protocol=consumer (uniform and
range assignors on the broker) while members join, leave and crash; Kafka's Java consumers
with group.protocol=consumer, joined, stopped and killed; kafka-consumer-groups listing,
describing, resetting and deleting such a group; a group that carries on through a kill -9 of
the broker, its records read by Kafka's own decoder. Every record is consumed at least once and
the group's committed offsets end at the log end. Groups that move between the two protocols:
test_group_migration.py.
"""

from __future__ import annotations

import re
import time

import pytest
from confluent_kafka import ConsumerGroupType

# stop_members is an autouse fixture: imported, it stops what each test leaves running.
from group_members import (FAST_GROUPS, SIX, Load, Member, committed_offsets,  # noqa: F401
                           describe, groups_tool, java_consumer, split, stop_members, wait_for,
                           wait_for_commits_to_reach_the_end)
from harness.tern import TernBroker
from tern_fixtures import create_topic, partition_for, producer, segment_files, tool

CONFIG = FAST_GROUPS
EVERYTHING = SIX


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TernBroker:
    b = TernBroker(tmp_path_factory.mktemp("tern"), CONFIG).start()
    yield b
    b.stop()


@pytest.mark.parametrize("assignor", ["uniform", "range"])
def test_librdkafka_members_join_leave_and_crash_without_losing_records(broker, tmp_path,
                                                                        assignor):
    topic, group = f"cp-{assignor}", f"cg-{assignor}"
    strategy = f"consumer:{assignor}"
    create_topic(broker.bootstrap, topic, 6)
    c1 = Member(broker, tmp_path, "c1", group, topic, strategy)
    c2 = Member(broker, tmp_path, "c2", group, topic, strategy)
    wait_for(lambda: split(c1, c2), 30, "c1 and c2 sharing the partitions")
    d = describe(broker, group)
    assert d.type == ConsumerGroupType.CONSUMER and d.partition_assignor == assignor, d
    with Load(broker, topic, 6) as load:
        time.sleep(2)
        c3 = Member(broker, tmp_path, "c3", group, topic, strategy)
        wait_for(lambda: split(c1, c2, c3), 30, "c3 joining with partitions of its own")
        assert sorted(len(m.owned()) for m in (c1, c2, c3)) == [2, 2, 2]
        wait_for(lambda: describe(broker, group).state.name == "STABLE", 30, "a stable group")
        assert len(describe(broker, group).members) == 3
        time.sleep(2)
        c1.process.stop()  # close(): it leaves the group
        wait_for(lambda: split(c2, c3), 30, "c2 and c3 taking c1's partitions")
        time.sleep(2)
        c2.process.kill()  # its partitions move once its session (6 s) ends
        wait_for(lambda: c3.owned() == EVERYTHING, 30, "c3 taking the killed c2's partitions")
        time.sleep(2)
    wait_for_commits_to_reach_the_end(broker, group, topic, 6)
    c3.process.stop()

    consumed = set(c1.consumed()) | set(c2.consumed()) | set(c3.consumed())
    missing = sorted(load.delivered - consumed)
    assert not missing, f"{len(missing)} records never consumed, e.g. {missing[:10]}"
    assert len(load.delivered) > 500 and all(m.consumed() for m in (c1, c2, c3))
    wait_for(lambda: describe(broker, group).state.name == "EMPTY", 30, "the group emptying")


def member_rows(broker, group: str) -> list[list[str]]:
    out = groups_tool(broker, "--describe", "--group", group, "--members", "--verbose")
    return [line.split() for line in out.splitlines() if line.startswith(group)]


def test_java_consumers_with_group_protocol_consumer(broker, tmp_path):
    topic, group = "cp-java", "cg-java"
    create_topic(broker.bootstrap, topic, 6)
    consumers = [java_consumer(broker, tmp_path, group, topic, f"java-{i}") for i in range(3)]
    p = producer(broker.bootstrap)
    sent: list[str] = []

    def send(n: int) -> None:
        for _ in range(n):
            v = f"rec-{len(sent)}"
            p.produce(topic, value=v.encode(), partition=len(sent) % 6)
            sent.append(v)
        assert p.flush(60) == 0

    def read() -> set[str]:
        got: set[str] = set()
        for i in range(3):
            text = (tmp_path / f"java-{i}.log").read_text(errors="replace")
            got |= set(re.findall(r"^rec-\d+$", text, re.M))
        return got

    try:
        def three_with_two_each() -> bool:
            rows = member_rows(broker, group)
            # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS CURRENT-EPOCH ... TARGET-EPOCH ...
            return len(rows) == 3 and all(r[4] == "2" and r[5] == r[7] for r in rows)

        wait_for(three_with_two_each, 90, "three Java consumers holding two partitions each")
        assert sorted(r[3] for r in member_rows(broker, group)) == ["java-0", "java-1", "java-2"]
        state = groups_tool(broker, "--describe", "--group", group, "--state")
        assert re.search(rf"^{group}\s+\S+\s+\(1\)\s+uniform\s+Stable\s+3\s*$", state, re.M), state
        listed = groups_tool(broker, "--list", "--type")
        assert re.search(rf"^{group}\s+Consumer\s*$", listed, re.M), listed

        send(300)
        wait_for(lambda: read() >= set(sent), 60, "the consumers reading every record")
        consumers[0].stop()  # leaves the group
        send(300)
        consumers[1].kill()  # kill -9: its partitions move when its session ends
        send(300)
        wait_for(lambda: read() >= set(sent), 90, "the last consumer reading every record")
        wait_for(lambda: [r[4] for r in member_rows(broker, group)] == ["6"], 60,
                 "the survivor holding every partition")
        wait_for_commits_to_reach_the_end(broker, group, topic, 6)
    finally:
        for c in consumers:
            c.stop()
    assert read() == set(sent)

    # An empty consumer group: kafka-consumer-groups resets its offsets and deletes it.
    wait_for(lambda: describe(broker, group).state.name == "EMPTY", 30, "the group emptying")
    out = groups_tool(broker, "--reset-offsets", "--group", group, "--topic", topic,
                      "--to-earliest", "--execute")
    assert len([line for line in out.splitlines() if line.startswith(group)]) == 6, out
    assert committed_offsets(broker, group, topic, 6) == [0] * 6
    assert "successful" in groups_tool(broker, "--delete", "--group", group)
    assert group not in groups_tool(broker, "--list").split()


def test_a_group_with_members_refuses_deletion_and_resets(broker, tmp_path):
    topic, group = "cp-busy", "cg-busy"
    create_topic(broker.bootstrap, topic, 6)
    m = Member(broker, tmp_path, "busy", group, topic, "consumer:uniform")
    wait_for(lambda: m.owned() == EVERYTHING, 30, "the member holding every partition")
    out = groups_tool(broker, "--delete", "--group", group, check=False)
    assert "NON_EMPTY_GROUP" in out or "not empty" in out, out
    out = groups_tool(broker, "--reset-offsets", "--group", group, "--topic", topic,
                      "--to-earliest", "--execute", check=False)
    assert "inactive" in out, out
    offsets_delete = groups_tool(broker, "--delete-offsets", "--group", group, "--topic", topic,
                                 check=False)
    assert "GROUP_SUBSCRIBED_TO_TOPIC" in offsets_delete or "subscribed" in offsets_delete, \
        offsets_delete


def test_a_group_survives_kill_9_of_the_broker(tmp_path):
    broker = TernBroker(tmp_path / "tern", CONFIG).start()
    try:
        topic, group = "cp-restart", "cg-restart"
        create_topic(broker.bootstrap, topic, 6)
        members = [Member(broker, tmp_path, f"r{i}", group, topic, "consumer:uniform")
                   for i in range(2)]
        wait_for(lambda: split(*members), 30, "both members assigned")
        with Load(broker, topic, 6):
            time.sleep(2)
        wait_for_commits_to_reach_the_end(broker, group, topic, 6)
        first = {r for m in members for r in m.consumed()}
        before = describe(broker, group)
        ids = sorted(m.member_id for m in before.members)
        held = {m.member_id: sorted(tp.partition for tp in m.assignment.topic_partitions)
                for m in before.members}
        revocations = [sum(1 for e in m.events() if "revoked" in e) for m in members]

        broker.kill()
        broker.restart()
        assert "loaded 1 consumer groups with 2 members" in broker.log_text()
        # The members carry on as themselves, with their partitions: no one rejoins.
        with Load(broker, topic, 6) as load:
            time.sleep(3)
        wait_for_commits_to_reach_the_end(broker, group, topic, 6)
        after = describe(broker, group)
        assert sorted(m.member_id for m in after.members) == ids
        assert {m.member_id: sorted(tp.partition for tp in m.assignment.topic_partitions)
                for m in after.members} == held
        consumed = [r for m in members for r in m.consumed()]
        assert len([r for r in consumed if r in first]) == len(first), \
            "records committed before the crash were read again"
        assert not load.delivered - set(consumed)
        assert [sum(1 for e in m.events() if "revoked" in e) for m in members] == revocations, \
            "a member gave up partitions after the restart"

        # Kafka's own decoder of __consumer_offsets reads the group's records.
        segment = segment_files(broker.data_dir, "__consumer_offsets", partition_for(group))[0]
        dump = tool("kafka-run-class", "org.apache.kafka.tools.DumpLogSegments", "--files",
                    str(segment), "--offsets-decoder")
        for member_id in ids:
            assert re.search(r'"type":"5".*"memberId":"' + re.escape(member_id), dump), dump
            assert re.search(r'"type":"8".*"memberId":"' + re.escape(member_id) +
                             r'".*"memberEpoch":\d+', dump), dump
        assert re.search(r'"type":"3".*"groupId":"' + group + r'".*"epoch":\d+', dump), dump
    finally:
        for m in Member.started:
            m.process.stop()
        Member.started.clear()
        broker.stop()
