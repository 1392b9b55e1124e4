"""Groups moving between the classic and the consumer rebalance protocol with their members in
them (KIP-848's online upgrade and downgrade, group.consumer.migration.policy) on tern-broker,
with real clients:
- librdkafka members rolled from the classic protocol (eager and cooperative assignors) to the
  consumer protocol and back under a producer load: every record is consumed, each partition
  has one owner whenever the group settles, and the group reports each protocol in turn;
- Kafka's Java consumers rolled from group.protocol=classic to consumer, one at a time, and
  back, reading every record, with the group's records (classic members of a consumer group)
  decoded by Kafka's own DumpLogSegments and the group carrying on through a kill -9 of the
  broker;
- with the policy disabled, the two protocols do not share a group.
"""

from __future__ import annotations

import re
import time

import pytest
from confluent_kafka import Consumer, ConsumerGroupType, KafkaException

# stop_members is an autouse fixture: imported, it stops what each test leaves running.
from group_members import (FAST_GROUPS, SIX, Load, Member, describe, groups_tool,  # noqa: F401
                           java_consumer, split, stop_members, wait_for,
                           wait_for_commits_to_reach_the_end)
from harness.process import ManagedProcess
from harness.tern import TernBroker
from tern_fixtures import create_topic, partition_for, producer, segment_files, tool

CONFIG = FAST_GROUPS
EVERYTHING = SIX


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TernBroker:
    b = TernBroker(tmp_path_factory.mktemp("tern"), CONFIG).start()
    yield b
    b.stop()


def group_type(broker, group: str):
    return describe(broker, group).type


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_librdkafka_members_roll_to_the_consumer_protocol_and_back(broker, tmp_path, strategy):
    topic, group = f"mig-{strategy}", f"gm-{strategy}"
    create_topic(broker.bootstrap, topic, 6)
    c1 = Member(broker, tmp_path, "c1", group, topic, strategy)
    c2 = Member(broker, tmp_path, "c2", group, topic, strategy)
    wait_for(lambda: split(c1, c2), 30, "c1 and c2 sharing the partitions")
    assert group_type(broker, group) == ConsumerGroupType.CLASSIC
    with Load(broker, topic, 6) as load:
        time.sleep(1)
        # Upgrade: a consumer-protocol member joins the classic group with its members.
        n1 = Member(broker, tmp_path, "n1", group, topic, "consumer:uniform")
        wait_for(lambda: split(c1, c2, n1), 60, "n1 joining c1 and c2")
        d = describe(broker, group)
        assert d.type == ConsumerGroupType.CONSUMER and len(d.members) == 3, d
        assert sorted(len(m.owned()) for m in (c1, c2, n1)) == [2, 2, 2]
        c1.process.stop()  # a classic member leaves the consumer group
        wait_for(lambda: split(c2, n1), 60, "c2 and n1 taking c1's partitions")
        n2 = Member(broker, tmp_path, "n2", group, topic, "consumer:uniform")
        wait_for(lambda: split(c2, n1, n2), 60, "n2 joining")
        c2.process.stop()  # the last classic member
        wait_for(lambda: split(n1, n2), 60, "n1 and n2 taking c2's partitions")
        # Downgrade: a classic member joins, then every consumer-protocol member leaves.
        c3 = Member(broker, tmp_path, "c3", group, topic, strategy)
        wait_for(lambda: split(n1, n2, c3), 60, "the classic c3 joining the consumer group")
        assert group_type(broker, group) == ConsumerGroupType.CONSUMER
        n1.process.stop()
        wait_for(lambda: split(n2, c3), 60, "n2 and c3 taking n1's partitions")
        n2.process.stop()
        wait_for(lambda: c3.owned() == EVERYTHING, 60, "c3 holding every partition")
        wait_for(lambda: group_type(broker, group) == ConsumerGroupType.CLASSIC, 30,
                 "the group back in the classic protocol")
        time.sleep(1)
    wait_for_commits_to_reach_the_end(broker, group, topic, 6)
    members = (c1, c2, n1, n2, c3)
    consumed = set().union(*(set(m.consumed()) for m in members))
    missing = sorted(load.delivered - consumed)
    assert not missing, f"{len(missing)} records never consumed, e.g. {missing[:10]}"
    assert len(load.delivered) > 500 and all(m.consumed() for m in members)
    log = broker.log_text()
    assert f"group {group}: moved to the consumer protocol" in log
    assert f"group {group}: moved back to the classic protocol" in log
    c3.process.stop()


def test_java_consumers_roll_from_classic_to_consumer_and_back(tmp_path):
    broker = TernBroker(tmp_path / "tern", CONFIG).start()
    topic, group = "mig-java", "gm-java"
    names = ["old-0", "old-1", "new-0", "new-1", "back-0"]
    consumers: dict[str, ManagedProcess] = {}
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
        for name in names:
            log = tmp_path / f"{name}.log"
            if log.exists():
                got |= set(re.findall(r"^rec-\d+$", log.read_text(errors="replace"), re.M))
        return got

    def start(name: str, protocol: str) -> None:
        consumers[name] = java_consumer(broker, tmp_path, group, topic, name, protocol)

    def members() -> list[list[str]]:
        out = groups_tool(broker, "--describe", "--group", group, "--members", check=False)
        return [line.split() for line in out.splitlines() if line.startswith(group)]

    def holding(count: int) -> bool:
        rows = members()  # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
        return len(rows) == count and sum(int(r[4]) for r in rows) == 6 and \
            all(r[4] != "0" for r in rows)

    try:
        create_topic(broker.bootstrap, topic, 6)
        start("old-0", "classic")
        start("old-1", "classic")
        wait_for(lambda: holding(2), 90, "two classic Java consumers sharing the partitions")
        send(300)
        wait_for(lambda: read() >= set(sent), 60, "the classic consumers reading every record")

        consumers.pop("old-0").stop()
        start("new-0", "consumer")  # the upgrade: old-1 stays in the group as a classic member
        wait_for(lambda: holding(2), 90, "new-0 and the classic old-1 sharing the partitions")
        listed = groups_tool(broker, "--list", "--type")
        assert re.search(rf"^{group}\s+Consumer\s*$", listed, re.M), listed
        send(300)
        wait_for(lambda: read() >= set(sent), 60, "new-0 and old-1 reading every record")

        # Kafka's decoder reads the classic member's metadata in the consumer group's records.
        segment = segment_files(broker.data_dir, "__consumer_offsets", partition_for(group))[0]
        dump = tool("kafka-run-class", "org.apache.kafka.tools.DumpLogSegments", "--files",
                    str(segment), "--offsets-decoder")
        assert re.search(r'"type":"5".*"clientId":"old-1".*"classicMemberMetadata":\{'
                         r'"sessionTimeoutMs":6000,"supportedProtocols":\[\{"name":"range"',
                         dump), dump
        assert '"type":"2","data":{"group":"' + group + '"}} payload: <DELETE>' in dump, \
            "no tombstone of the classic group's record"

        # The group, classic member and all, carries on through a kill -9 of the broker.
        broker.kill()
        broker.restart()
        assert "loaded 1 consumer groups with 2 members" in broker.log_text()
        send(300)
        wait_for(lambda: read() >= set(sent), 90, "both reading every record after the restart")

        consumers.pop("old-1").stop()
        start("new-1", "consumer")
        wait_for(lambda: holding(2), 90, "two consumer-protocol members")
        send(300)
        wait_for(lambda: read() >= set(sent), 60, "the consumers reading every record")
        rows = groups_tool(broker, "--describe", "--group", group, "--members", "--verbose")
        assert "old-1" not in rows and "new-1" in rows, rows

        # And back: a classic consumer joins the consumer group, then the consumer-protocol
        # members leave, and the group is a classic group again.
        consumers.pop("new-0").stop()
        start("back-0", "classic")
        wait_for(lambda: holding(2), 90, "the classic back-0 joining new-1")
        consumers.pop("new-1").stop()
        wait_for(lambda: holding(1), 90, "back-0 holding every partition")
        listed = groups_tool(broker, "--list", "--type")
        assert re.search(rf"^{group}\s+Classic\s*$", listed, re.M), listed
        send(300)
        wait_for(lambda: read() >= set(sent), 60, "back-0 reading every record")
        wait_for_commits_to_reach_the_end(broker, group, topic, 6)
        assert f"group {group}: moved back to the classic protocol" in broker.log_text()
    finally:
        for c in consumers.values():
            c.stop()
        broker.stop()
    assert read() == set(sent)


def test_the_protocols_do_not_share_a_group_with_migration_disabled(tmp_path):
    broker = TernBroker(tmp_path / "tern",
                        {**CONFIG, "group.consumer_migration_policy": "disabled"}).start()
    topic, group = "mig-off", "gm-off"
    try:
        create_topic(broker.bootstrap, topic, 6)
        classic = Member(broker, tmp_path, "classic", group, topic, "range")
        wait_for(lambda: classic.owned() == EVERYTHING, 30, "the classic member assigned")
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                      "group.protocol": "consumer", "log_level": 0})
        errors = []
        try:
            c.subscribe([topic])
            deadline = time.monotonic() + 30
            while not errors and time.monotonic() < deadline:
                try:
                    m = c.poll(0.2)
                except KafkaException as e:
                    errors.append(e.args[0])
                    break
                if m is not None and m.error() is not None:
                    errors.append(m.error())
        finally:
            c.close()
        assert errors and "group id does not exist" in errors[0].str(), errors
        assert classic.owned() == EVERYTHING, "the classic group is left as it was"
        assert group_type(broker, group) == ConsumerGroupType.CLASSIC
    finally:
        classic.process.stop()
        broker.stop()
