"""What the consumer-group tests share: member processes (group_consumer.py) whose events can be
read back, a producer load running in a thread, and the group's view from the admin client and
Kafka's kafka-consumer-groups.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from harness import paths
from harness.process import ManagedProcess
from tern_fixtures import (consumer, formatted_records, high_watermarks, producer,
                           read_offsets_partition, tool)

CONSUMER = Path(__file__).with_name("group_consumer.py")
SESSION_MS = 4000


# Sessions of 6 s and heartbeats every 500 ms, so that crashes and rebalances settle quickly.
FAST_GROUPS = {"group.consumer_session_timeout_ms": 6000,
               "group.consumer_heartbeat_interval_ms": 500,
               "group.initial_rebalance_delay_ms": 300, "group.min_session_timeout_ms": 1000}
SIX = set(range(6))  # the partitions of the tests' topics


def split(*members) -> bool:
    """The members hold every partition of a six-partition topic between them, each exactly
    once."""
    owned = [m.owned() for m in members]
    return all(owned) and set().union(*owned) == SIX and sum(map(len, owned)) == len(SIX)


@pytest.fixture(autouse=True)
def stop_members():
    """Whatever member processes a test leaves running (it failed, say) are stopped. Test
    modules that start members import it."""
    yield
    while Member.started:
        Member.started.pop().process.stop()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.2)


class Member:
    """One group_consumer.py process and the events it wrote."""

    started: list["Member"] = []  # stopped after each test (stop_members)

    def __init__(self, broker, workdir: Path, name: str, group: str, topic: str,
                 strategy: str = "range", session_ms: int = SESSION_MS,
                 instance: str | None = None):
        self.out = workdir / f"{name}.jsonl"
        argv = [sys.executable, CONSUMER, broker.bootstrap, group, topic, strategy,
                str(session_ms), self.out] + ([instance] if instance else [])
        self.process = ManagedProcess(name, argv, workdir / f"{name}.log").start()
        Member.started.append(self)

    def events(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()
                if line.endswith("}")]

    def owned(self) -> set[int]:
        """The partitions it holds now, from its rebalance callbacks (an eager protocol
        revokes everything and assigns everything; a cooperative one adds and removes)."""
        owned: set[int] = set()
        for e in self.events():
            owned |= set(e.get("assigned", []))
            owned -= set(e.get("revoked", []))
        return owned

    def consumed(self) -> list[tuple[int, int]]:
        return [tuple(r) for e in self.events() for r in e.get("records", [])]


class Load:
    """Produces the values 0, 1, 2, ... round-robin over the partitions from a thread until
    stopped; `delivered` holds the (partition, offset) of every acknowledged record."""

    def __init__(self, broker, topic: str, partitions: int):
        self.p = producer(broker.bootstrap)
        self.topic, self.partitions = topic, partitions
        self.delivered: set[tuple[int, int]] = set()
        self.errors: list = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Load":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(60)
        assert self.p.flush(60) == 0, "records still undelivered after 60 s"
        assert not self.errors, f"delivery errors: {self.errors[:5]}"

    def _run(self) -> None:
        seq = 0

        def on_delivery(err, msg):
            if err is not None:
                self.errors.append(err)
            else:
                self.delivered.add((msg.partition(), msg.offset()))

        while not self.stop.is_set():
            self.p.produce(self.topic, value=str(seq).encode(), partition=seq % self.partitions,
                           on_delivery=on_delivery)
            seq += 1
            self.p.poll(0.005)


def committed_offsets(broker, group: str, topic: str, partitions: int) -> list[int]:
    c = consumer(broker.bootstrap, group_id=group)
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    finally:
        c.close()
    return [tp.offset for tp in sorted(got, key=lambda tp: tp.partition)]


def wait_for_commits_to_reach_the_end(broker, group: str, topic: str, partitions: int) -> None:
    ends = high_watermarks(broker.bootstrap, topic, partitions)
    wait_for(lambda: committed_offsets(broker, group, topic, partitions) == ends, 60,
             f"the committed offsets of {group} reaching the log end {ends}")


def describe(broker, group: str):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    return admin.describe_consumer_groups([group])[group].result(timeout=30)


def groups_tool(broker, *args: str, check: bool = True) -> str:
    return tool("kafka-consumer-groups", "--bootstrap-server", broker.bootstrap, *args,
                check=check)


def group_records(broker, group: str) -> list[dict]:
    """The values of the group's GroupMetadata records, as Kafka's formatter decodes them."""
    records = formatted_records(
        read_offsets_partition(broker, group, "GroupMetadataMessageFormatter", 5000), group)
    return [r["value"]["data"] for r in records
            if r["key"]["type"] == 2 and r["value"] is not None]


def java_consumer(broker, tmp_path, group: str, topic: str, name: str,
                  protocol: str = "consumer") -> ManagedProcess:
    """Kafka's console consumer in `group` with this group.protocol, printing values to the
    log `tmp_path/name.log`; the classic protocol gets quick heartbeats and a 6 s session."""
    return ManagedProcess(name, [
        paths.kafka_tool("kafka-console-consumer"), "--bootstrap-server", broker.bootstrap,
        "--topic", topic, "--group", group, "--from-beginning",
        "--command-property", f"group.protocol={protocol}",
        "--command-property", "auto.commit.interval.ms=500",
        *([] if protocol == "consumer" else [
            "--command-property", "heartbeat.interval.ms=500",
            "--command-property", "session.timeout.ms=6000"]),
        "--command-property", f"client.id={name}"], tmp_path / f"{name}.log").start()
