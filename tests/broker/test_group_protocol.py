"""The classic group protocol on tern-broker, request by request through kafka-python's codecs:
every version of JoinGroup, SyncGroup, Heartbeat and LeaveGroup, and the errors Kafka answers
(MEMBER_ID_REQUIRED, INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID,
ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED,
NON_EMPTY_GROUP), and what commits, DescribeGroups and ListGroups see of a group with members.
"""

from __future__ import annotations

import time

import pytest
from kafka.protocol.admin.groups import (DeleteGroupsRequest, DeleteGroupsResponse,
                                         DescribeGroupsRequest, DescribeGroupsResponse,
                                         ListGroupsRequest, ListGroupsResponse)
from kafka.protocol.consumer.group import (HeartbeatRequest, HeartbeatResponse,
                                           JoinGroupRequest, JoinGroupResponse,
                                           LeaveGroupRequest, LeaveGroupResponse,
                                           OffsetCommitRequest, OffsetCommitResponse,
                                           SyncGroupRequest, SyncGroupResponse)

from harness.tern import TernBroker
from kafka_python_wire import Wire
from tern_fixtures import create_topic

# Kafka error codes (apache/kafka Errors.java).
NONE = 0
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81
FENCED_INSTANCE_ID = 82

CONFIG = {"group.initial_rebalance_delay_ms": 200, "group.min_session_timeout_ms": 1000}


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TernBroker:
    b = TernBroker(tmp_path_factory.mktemp("tern"), CONFIG).start()
    yield b
    b.stop()


@pytest.fixture
def wires(broker):
    opened = []

    def open_wire() -> Wire:
        opened.append(Wire(broker.bootstrap))
        return opened[-1]

    yield open_wire
    for w in opened:
        w.close()


def join_fields(version: int, group: str, member_id: str = "", instance: str | None = None,
                protocols=(("range", b"meta"),), protocol_type: str = "consumer",
                session_ms: int = 10000, rebalance_ms: int = 5000) -> dict:
    P = JoinGroupRequest.JoinGroupRequestProtocol
    fields = dict(group_id=group, session_timeout_ms=session_ms, member_id=member_id,
                  protocol_type=protocol_type,
                  protocols=[P(name=n, metadata=m) for n, m in protocols])
    if version >= 1:
        fields["rebalance_timeout_ms"] = rebalance_ms
    if version >= 5:
        fields["group_instance_id"] = instance
    if version >= 8:
        fields["reason"] = None
    return fields


def join(w: Wire, version: int, group: str, **kwargs):
    return w.call(JoinGroupRequest, JoinGroupResponse, version,
                  **join_fields(version, group, **kwargs))


def new_member(w: Wire, group: str, **kwargs) -> str:
    r = join(w, 9, group, **kwargs)
    assert r.error_code == MEMBER_ID_REQUIRED and r.member_id.startswith("tern-tests-"), r
    return r.member_id


def sync(w: Wire, version: int, group: str, generation: int, member_id: str,
         assignments=(), instance: str | None = None, protocol=("consumer", "range")):
    A = SyncGroupRequest.SyncGroupRequestAssignment
    fields = dict(group_id=group, generation_id=generation, member_id=member_id,
                  assignments=[A(member_id=m, assignment=a) for m, a in assignments])
    if version >= 3:
        fields["group_instance_id"] = instance
    if version >= 5:
        fields["protocol_type"], fields["protocol_name"] = protocol
    return w.call(SyncGroupRequest, SyncGroupResponse, version, **fields)


def heartbeat(w: Wire, group: str, generation: int, member_id: str, version: int = 4,
              instance: str | None = None) -> int:
    fields = dict(group_id=group, generation_id=generation, member_id=member_id)
    if version >= 3:
        fields["group_instance_id"] = instance
    return w.call(HeartbeatRequest, HeartbeatResponse, version, **fields).error_code


def leave(w: Wire, version: int, group: str, *members: tuple[str, str | None]):
    if version < 3:
        (member_id, _), = members
        return w.call(LeaveGroupRequest, LeaveGroupResponse, version, group_id=group,
                      member_id=member_id)
    M = LeaveGroupRequest.MemberIdentity
    identities = [M(member_id=m, group_instance_id=i, **({"reason": "test"} if version >= 5
                                                          else {}))
                  for m, i in members]
    return w.call(LeaveGroupRequest, LeaveGroupResponse, version, group_id=group,
                  members=identities)


def describe(w: Wire, group: str):
    (g,) = w.call(DescribeGroupsRequest, DescribeGroupsResponse, 5, groups=[group],
                  include_authorized_operations=False).groups
    return g


def commit(w: Wire, group: str, topic: str, generation: int, member_id: str) -> int:
    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    r = w.call(OffsetCommitRequest, OffsetCommitResponse, 8, group_id=group,
               generation_id_or_member_epoch=generation, member_id=member_id,
               group_instance_id=None, topics=[T(name=topic, partitions=[
                   P(partition_index=0, committed_offset=1, committed_leader_epoch=-1,
                     committed_metadata="")])])
    return r.topics[0].partitions[0].error_code


def test_every_version_joins_syncs_heartbeats_and_leaves(broker, wires):
    w = wires()
    for version in range(0, 10):
        group = f"g-proto-v{version}"
        r = join(w, version, group)
        if version >= 4:
            assert r.error_code == MEMBER_ID_REQUIRED, version
            r = join(w, version, group, member_id=r.member_id)
        assert (r.error_code, r.generation_id, r.protocol_name) == (NONE, 1, "range"), version
        assert r.leader == r.member_id and r.member_id.startswith("tern-tests-")
        assert [(m.member_id, m.metadata) for m in r.members] == [(r.member_id, b"meta")]
        if version >= 7:
            assert r.protocol_type == "consumer"
        me = r.member_id

        s = sync(w, min(version, 5), group, 1, me, [(me, b"assigned")])
        assert (s.error_code, s.assignment) == (NONE, b"assigned"), version
        if version >= 5:
            assert (s.protocol_type, s.protocol_name) == ("consumer", "range")
        assert heartbeat(w, group, 1, me, version=min(version, 4)) == NONE

        g = describe(w, group)
        assert (g.group_state, g.protocol_type, g.protocol_data) == ("Stable", "consumer",
                                                                    "range")
        (m,) = g.members
        assert (m.member_id, m.client_id, m.client_host) == (me, "tern-tests", "/127.0.0.1")
        assert (m.member_metadata, m.member_assignment) == (b"meta", b"assigned")

        left = leave(w, min(version, 5), group, (me, None))
        if version >= 3:
            assert left.error_code == NONE and [x.error_code for x in left.members] == [NONE]
        else:
            assert left.error_code == NONE
        assert describe(w, group).group_state == "Empty"


def test_join_errors(broker, wires):
    w = wires()
    assert join(w, 9, "g-errors", session_ms=500).error_code == INVALID_SESSION_TIMEOUT
    assert join(w, 9, "g-errors", session_ms=2_000_000).error_code == INVALID_SESSION_TIMEOUT
    # A member id for a group nobody joined.
    assert join(w, 9, "g-errors-none", member_id="someone").error_code == UNKNOWN_MEMBER_ID
    assert join(w, 9, "").error_code == INVALID_GROUP_ID

    me = new_member(w, "g-errors")
    r = join(w, 9, "g-errors", member_id=me)
    assert r.error_code == NONE
    assert sync(w, 5, "g-errors", 1, me, [(me, b"x")]).error_code == NONE
    # Another protocol type, or no protocol in common with the members.
    assert join(w, 9, "g-errors", protocol_type="connect").error_code == \
        INCONSISTENT_GROUP_PROTOCOL
    assert join(w, 9, "g-errors", protocols=(("roundrobin", b""),)).error_code == \
        INCONSISTENT_GROUP_PROTOCOL
    # SyncGroup v5 must name the protocol; a different one is inconsistent.
    assert sync(w, 5, "g-errors", 1, me, protocol=(None, None)).error_code == \
        INCONSISTENT_GROUP_PROTOCOL
    assert sync(w, 5, "g-errors", 1, me, protocol=("consumer", "roundrobin")).error_code == \
        INCONSISTENT_GROUP_PROTOCOL
    assert sync(w, 5, "g-errors", 2, me).error_code == ILLEGAL_GENERATION
    assert sync(w, 5, "g-errors", 1, "stranger").error_code == UNKNOWN_MEMBER_ID
    assert heartbeat(w, "g-errors", 7, me) == ILLEGAL_GENERATION
    assert heartbeat(w, "g-errors", 1, "stranger") == UNKNOWN_MEMBER_ID
    assert heartbeat(w, "g-errors-none", 1, me) == UNKNOWN_MEMBER_ID
    r = leave(w, 3, "g-errors", ("stranger", None), ("", "no-such-instance"))
    assert [x.error_code for x in r.members] == [UNKNOWN_MEMBER_ID, UNKNOWN_MEMBER_ID]
    assert leave(w, 1, "g-errors", ("stranger", None)).error_code == UNKNOWN_MEMBER_ID
    assert leave(w, 3, "g-errors-none", (me, None)).error_code == UNKNOWN_MEMBER_ID


def test_a_rebalance_seen_by_heartbeats_commits_and_the_admin_apis(broker, wires):
    topic, group = "proto-rebalance", "g-rebalance"
    create_topic(broker.bootstrap, topic, 1)
    wa, wb = wires(), wires()
    a = new_member(wa, group)
    assert join(wa, 9, group, member_id=a).generation_id == 1
    assert sync(wa, 5, group, 1, a, [(a, b"all")]).error_code == NONE
    assert commit(wa, group, topic, 1, a) == NONE
    # A simple commit (no generation) to a group with members is refused.
    assert commit(wa, group, topic, -1, "") == UNKNOWN_MEMBER_ID

    b = new_member(wb, group)
    wb.send(JoinGroupRequest, 9, **join_fields(9, group, member_id=b))  # parked
    deadline = time.monotonic() + 10
    while describe(wa, group).group_state != "PreparingRebalance":
        assert time.monotonic() < deadline, "b's JoinGroup did not start a rebalance"
        time.sleep(0.05)
    assert heartbeat(wa, group, 1, a) == REBALANCE_IN_PROGRESS
    assert commit(wa, group, topic, 1, a) == NONE  # the old generation may still commit
    assert describe(wa, group).group_state == "PreparingRebalance"
    ra = join(wa, 9, group, member_id=a)
    rb = wb.receive(JoinGroupResponse, 9)
    assert (ra.generation_id, rb.generation_id) == (2, 2)
    assert ra.leader == a and sorted(m.member_id for m in ra.members) == sorted([a, b])
    assert rb.members == []

    # CompletingRebalance: the leader has not assigned yet.
    g = describe(wa, group)
    assert g.group_state == "CompletingRebalance" and g.protocol_data == ""
    assert sorted(m.member_id for m in g.members) == sorted([a, b])
    assert commit(wb, group, topic, 2, b) == REBALANCE_IN_PROGRESS
    assert commit(wb, group, topic, 1, b) == ILLEGAL_GENERATION
    (deleted,) = wa.call(DeleteGroupsRequest, DeleteGroupsResponse, 2,
                         groups_names=[group]).results
    assert deleted.error_code == NON_EMPTY_GROUP

    wb.send(SyncGroupRequest, 5, group_id=group, generation_id=2, member_id=b,
            group_instance_id=None, protocol_type="consumer", protocol_name="range",
            assignments=[])  # parked until the leader assigns
    assert sync(wa, 5, group, 2, a, [(a, b"half-a"), (b, b"half-b")]).assignment == b"half-a"
    assert wb.receive(SyncGroupResponse, 5).assignment == b"half-b"
    assert commit(wb, group, topic, 2, b) == NONE
    listed = wa.call(ListGroupsRequest, ListGroupsResponse, 5, states_filter=["Stable"],
                     types_filter=[]).groups
    assert group in [x.group_id for x in listed]
    assert [x.group_state for x in listed if x.group_id == group] == ["Stable"]


def test_static_members_fence_their_predecessors(broker, wires):
    group = "g-static-proto"
    w = wires()
    first = join(w, 9, group, instance="instance-a")  # a static member joins without an id
    assert first.error_code == NONE and first.member_id.startswith("instance-a-")
    assert sync(w, 5, group, 1, first.member_id, [(first.member_id, b"mine")],
                instance="instance-a").error_code == NONE

    again = join(w, 9, group, instance="instance-a")  # restarted, same metadata
    assert again.error_code == NONE and again.member_id != first.member_id
    assert again.generation_id == 1 and again.skip_assignment  # it leads; nothing to assign
    assert sync(w, 5, group, 1, again.member_id, instance="instance-a").assignment == b"mine"
    assert heartbeat(w, group, 1, first.member_id, instance="instance-a") == FENCED_INSTANCE_ID
    assert heartbeat(w, group, 1, again.member_id, instance="instance-a") == NONE
    assert describe(w, group).members[0].group_instance_id == "instance-a"

    # An older client is told the previous leader id, so that it does not assign.
    old = join(w, 5, group, instance="instance-a")
    assert old.error_code == NONE and old.leader == again.member_id != old.member_id

    # The admin client removes a static member by its instance id alone.
    r = leave(w, 3, group, ("", "instance-a"))
    assert [x.error_code for x in r.members] == [NONE]
    assert describe(w, group).group_state == "Empty"


def test_group_max_size(tmp_path):
    broker = TernBroker(tmp_path / "tern", {**CONFIG, "group.max_size": 1}).start()
    try:
        w = Wire(broker.bootstrap)
        try:
            me = new_member(w, "g-small")
            assert join(w, 9, "g-small", member_id=me).error_code == NONE
            assert sync(w, 5, "g-small", 1, me).error_code == NONE
            r = join(w, 9, "g-small")
            assert (r.error_code, r.member_id) == (GROUP_MAX_SIZE_REACHED, "")
        finally:
            w.close()
    finally:
        broker.stop()
