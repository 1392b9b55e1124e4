"""Consumer groups with members on tern-broker, with real clients: librdkafka consumers that
subscribe (range and cooperative-sticky) while members join, leave and crash; Kafka's Java
console consumers splitting a topic; a static member restarted without a rebalance; a broker
killed under a running group. Every record is consumed at least once and the group's committed
offsets end at the log end; kafka-consumer-groups shows the members.

The consumers run as processes of their own (group_consumer.py) so that they can be killed.
"""

from __future__ import annotations

import re
import time

import pytest

# stop_members is an autouse fixture: imported, it stops what each test leaves running.
from group_members import (Load, Member, committed_offsets, describe, group_records,  # noqa: F401
                           groups_tool, stop_members, wait_for,
                           wait_for_commits_to_reach_the_end)
from harness import paths
from harness.process import ManagedProcess
from harness.tern import TernBroker
from tern_fixtures import create_topic, high_watermarks, producer

# Rebalances quick enough for tests: the first one waits 300 ms for more members, and members
# may ask for sessions of a few seconds.
GROUP_CONFIG = {"group.initial_rebalance_delay_ms": 300, "group.min_session_timeout_ms": 1000}


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TernBroker:
    b = TernBroker(tmp_path_factory.mktemp("tern"), GROUP_CONFIG).start()
    yield b
    b.stop()


# --- librdkafka: joins, leaves, crashes ---------------------------------------------------------

@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_members_join_leave_and_crash_without_losing_records(broker, tmp_path, strategy):
    topic, group, everything = f"grp-{strategy}", f"g-{strategy}", set(range(6))
    create_topic(broker.bootstrap, topic, 6)
    c1 = Member(broker, tmp_path, "c1", group, topic, strategy)
    c2 = Member(broker, tmp_path, "c2", group, topic, strategy)

    def split(*members) -> bool:
        owned = [m.owned() for m in members]
        return all(owned) and set().union(*owned) == everything and \
            sum(map(len, owned)) == len(everything)

    wait_for(lambda: split(c1, c2), 30, "c1 and c2 sharing the partitions")
    with Load(broker, topic, 6) as load:
        time.sleep(2)
        c3 = Member(broker, tmp_path, "c3", group, topic, strategy)
        wait_for(lambda: split(c1, c2, c3), 30, "c3 joining with partitions of its own")
        members = describe(broker, group).members
        assert len(members) == 3, members
        time.sleep(2)
        c1.process.stop()  # close(): it leaves the group
        wait_for(lambda: split(c2, c3), 30, "c2 and c3 taking c1's partitions")
        time.sleep(2)
        c2.process.kill()  # its partitions move once its session times out
        wait_for(lambda: c3.owned() == everything, 30, "c3 taking the killed c2's partitions")
        time.sleep(2)
    wait_for_commits_to_reach_the_end(broker, group, topic, 6)
    c3.process.stop()

    consumed = set(c1.consumed()) | set(c2.consumed()) | set(c3.consumed())
    missing = sorted(load.delivered - consumed)
    assert not missing, f"{len(missing)} records never consumed, e.g. {missing[:10]}"
    assert len(load.delivered) > 500 and all(m.consumed() for m in (c1, c2, c3))
    assert committed_offsets(broker, group, topic, 6) == high_watermarks(broker.bootstrap,
                                                                        topic, 6)
    wait_for(lambda: describe(broker, group).state.name == "EMPTY", 30, "the group emptying")


# --- Java consumers -----------------------------------------------------------------------------

def test_java_console_consumers_split_the_partitions(broker, tmp_path):
    topic, group = "grp-java", "g-java"
    create_topic(broker.bootstrap, topic, 6)
    consumers = [
        ManagedProcess(f"console-consumer-{i}", [
            paths.kafka_tool("kafka-console-consumer"), "--bootstrap-server", broker.bootstrap,
            "--topic", topic, "--group", group, "--from-beginning",
            "--command-property", f"client.id=java-{i}"], tmp_path / f"java-{i}.log").start()
        for i in range(2)]
    try:
        def stable_with_two() -> bool:
            d = describe(broker, group)
            return d.state.name == "STABLE" and len(d.members) == 2 and \
                all(m.assignment.topic_partitions for m in d.members)

        wait_for(stable_with_two, 90, "both console consumers in the group")
        members = groups_tool(broker, "--describe", "--group", group, "--members")
        rows = [line.split() for line in members.splitlines() if line.startswith(group)]
        assert sorted(row[3] for row in rows) == ["java-0", "java-1"], members
        assert [row[4] for row in rows] == ["3", "3"], members

        values = [f"rec-{i}" for i in range(600)]
        p = producer(broker.bootstrap)
        for i, v in enumerate(values):
            p.produce(topic, value=v.encode(), partition=i % 6)
        assert p.flush(60) == 0

        def read(i: int) -> list[str]:
            text = (tmp_path / f"java-{i}.log").read_text(errors="replace")
            return re.findall(r"^rec-\d+$", text, re.M)

        wait_for(lambda: len(read(0)) + len(read(1)) >= len(values), 60,
                 "the console consumers reading every record")
        time.sleep(1)
        both = read(0) + read(1)
        assert sorted(both) == sorted(values), "each record read exactly once"
        assert read(0) and read(1), "both consumers read records"
    finally:
        for c in consumers:
            c.stop()
    wait_for_commits_to_reach_the_end(broker, group, topic, 6)


# --- static membership --------------------------------------------------------------------------

def test_a_restarted_static_member_gets_its_partitions_back_without_a_rebalance(broker,
                                                                                 tmp_path):
    topic, group = "grp-static", "g-static"
    create_topic(broker.bootstrap, topic, 4)
    s1 = Member(broker, tmp_path, "s1", group, topic, session_ms=15000, instance="static-1")
    s2 = Member(broker, tmp_path, "s2", group, topic, session_ms=15000, instance="static-2")
    wait_for(lambda: s1.owned() and s2.owned() and s1.owned() | s2.owned() == set(range(4))
             and not s1.owned() & s2.owned(), 30, "the static members sharing the partitions")
    before, s2_events = s1.owned(), s2.events()
    stored = group_records(broker, group)
    record = stored[-1]
    assert sorted(m["groupInstanceId"] for m in record["members"]) == ["static-1", "static-2"]
    old_id = next(m["memberId"] for m in record["members"] if m["groupInstanceId"] == "static-1")

    s1.process.kill()
    s1b = Member(broker, tmp_path, "s1b", group, topic, session_ms=15000, instance="static-1")
    wait_for(lambda: s1b.owned() == before, 30, "the restarted member getting its partitions")
    time.sleep(2)
    assert [e for e in s2.events() if "records" not in e and "committed" not in e] == \
        [e for e in s2_events if "records" not in e and "committed" not in e], \
        "the other member saw no rebalance"
    records = group_records(broker, group)
    assert len(records) == len(stored) + 1, records  # the replacement, in the same generation
    latest = records[-1]
    assert latest["generation"] == record["generation"]
    new_id = next(m["memberId"] for m in latest["members"] if m["groupInstanceId"] == "static-1")
    assert new_id != old_id and new_id.startswith("static-1-")
    d = describe(broker, group)
    assert d.state.name == "STABLE"
    assert sorted(m.group_instance_id for m in d.members) == ["static-1", "static-2"]
    s1b.process.stop()
    s2.process.stop()


# --- a broker crash under a running group -------------------------------------------------------

def test_a_group_survives_kill_9_of_the_broker(tmp_path):
    broker = TernBroker(tmp_path / "tern", GROUP_CONFIG).start()
    try:
        topic, group = "grp-restart", "g-restart"
        create_topic(broker.bootstrap, topic, 4)
        members = [Member(broker, tmp_path, f"r{i}", group, topic, session_ms=15000)
                   for i in range(2)]
        wait_for(lambda: all(m.owned() for m in members), 30, "both members assigned")
        with Load(broker, topic, 4):
            time.sleep(2)
        wait_for_commits_to_reach_the_end(broker, group, topic, 4)
        first = {r for m in members for r in m.consumed()}
        out = groups_tool(broker, "--describe", "--group", group, "--members")
        assert len([line for line in out.splitlines() if line.startswith(group)]) == 2, out

        broker.kill()
        broker.restart()
        assert "loaded 1 classic groups with 2 members" in broker.log_text()
        state = groups_tool(broker, "--describe", "--group", group, "--state")
        assert re.search(rf"^{group}\s+\S+\s+\(1\)\s+range\s+Stable\s+2\s*$", state, re.M), state

        with Load(broker, topic, 4) as load:
            time.sleep(3)
        wait_for_commits_to_reach_the_end(broker, group, topic, 4)
        out = groups_tool(broker, "--describe", "--group", group, "--members")
        rows = [line.split() for line in out.splitlines() if line.startswith(group)]
        assert len(rows) == 2 and sorted(row[4] for row in rows) == ["2", "2"], out
        assert "Stable" in groups_tool(broker, "--describe", "--group", group, "--state")

        # Everything committed before the crash is read once: the members carried on from the
        # committed offsets; what came after was read too.
        consumed = [r for m in members for r in m.consumed()]
        assert len([r for r in consumed if r in first]) == len(first), \
            "records committed before the crash were read again"
        assert not load.delivered - set(consumed)

        # The members leave; after another crash a new member starts exactly at the offsets
        # the group committed.
        for m in members:
            m.process.stop()
        wait_for(lambda: describe(broker, group).state.name == "EMPTY", 30, "the group emptying")
        committed = committed_offsets(broker, group, topic, 4)
        time.sleep(1)  # the empty group's record is durable
        broker.kill()
        broker.restart()
        with Load(broker, topic, 4):
            time.sleep(1)
        members.append(Member(broker, tmp_path, "r-new", group, topic, session_ms=15000))
        wait_for_commits_to_reach_the_end(broker, group, topic, 4)
        ends = high_watermarks(broker.bootstrap, topic, 4)
        read = members[-1].consumed()
        for p in range(4):
            offsets = [o for q, o in read if q == p]
            assert offsets == list(range(committed[p], ends[p])), \
                f"partition {p}: read {offsets[:3]}..., committed {committed[p]}, end {ends[p]}"
    finally:
        broker.stop()
