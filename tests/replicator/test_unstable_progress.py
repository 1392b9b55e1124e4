"""Exactly-once start-up when the target cannot give a stable answer about progress.

The replicator reads its committed progress with require_stable. When the group coordinator
holds offsets of that group pending in a transaction that stays open (seen after a target
restart cut off the end of a transaction that had committed), that read waits; after 15 s the
replicator reads the last committed offsets instead, which may predate its own last commit.
The state dir only ever holds progress whose transaction committed, so when it is ahead of
such an answer it wins: resuming from the older offsets would copy committed records again.

Here the situation is made on purpose: after a clean stop, the progress group's offsets on
the target are set back by a plain commit, and another transactional producer keeps offsets
of the group pending in a transaction it leaves open.

The same answer is no help when the replicator died between a transaction's commit on the
target and the state dir's: both predate that commit. The state dir then holds the commit it
prepared, and the transaction's last record on the target tells whether it committed. Here
failpoints (TERN_FAILPOINTS) end the process in that window, and before the commit.
"""

from __future__ import annotations

import re

from confluent_kafka import Consumer, Producer, TopicPartition

from support import (assert_replicated, committed_progress, consume_all, create_topic, produce,
                     producer, topic_names, wait_caught_up, wait_until)

TOPIC = "pending-progress"
PARTITIONS = 2


def records(start: int, end: int) -> list[dict]:
    return [{"partition": i % PARTITIONS, "key": b"%d" % i, "value": b"value-%d" % i}
            for i in range(start, end)]


def copy_then_unsettle(kafka_pair, tmp_path, topic: str, settings: dict):
    """Copies records 0..200 (100 per partition), stops, and leaves the target unable to give
    a stable answer: the progress group's last committed offsets set back to 40 by a plain
    commit, and another producer's open transaction holding offsets of the group pending.
    Then produces records 200..300. Returns the open transaction's producer."""
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, topic, PARTITIONS)
    p = producer(src)
    produce(p, topic, records(0, 200))
    r = kafka_pair.replicator(tmp_path / "replicator", **settings).start()
    wait_until(lambda: topic in topic_names(dst), 60, f"target topic {topic} created",
               alive=[r])
    wait_caught_up(r, {topic: topic})
    assert r.stop() == 0
    group = r.progress_group
    assert committed_progress(dst, group, topic, PARTITIONS) == {0: 100, 1: 100}
    metadata = set_back(dst, group, topic, 40)
    stray = Producer({"bootstrap.servers": dst, "transactional.id": "tern-tests.stray",
                      "transaction.timeout.ms": 300000})
    stray.init_transactions(60)
    stray.begin_transaction()
    stray.send_offsets_to_transaction(
        [TopicPartition(topic, q, 10) for q in range(PARTITIONS)], metadata, 60)
    assert committed_progress(dst, group, topic, PARTITIONS, stable=False) == {0: 40, 1: 40}
    produce(p, topic, records(200, 300))
    return stray


def set_back(dst: str, group: str, topic: str, offset: int):
    """Commits `offset` for every partition as the group's last committed offsets (the group
    has no members); returns the group's metadata for a transactional commit."""
    c = Consumer({"bootstrap.servers": dst, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, q, offset) for q in range(PARTITIONS)],
                 asynchronous=False)
        return c.consumer_group_metadata()
    finally:
        c.close()


def test_a_state_dir_ahead_of_an_unstable_answer_wins(kafka_pair, tmp_path):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    settings = {"topics": {"include": [TOPIC]},
                "transactional_id": "tern-replicator.pending-progress"}
    stray = copy_then_unsettle(kafka_pair, tmp_path, TOPIC, settings)
    try:
        r2 = kafka_pair.replicator(tmp_path / "replicator", **settings).start()
        group = r2.progress_group
        wait_until(lambda: "reading the last committed offsets without waiting"
                   in r2.log_text(), 90, "start-up to give up the stable read", alive=[r2])
        # A stable read would wait for the open transaction too: the last committed offsets.
        wait_until(lambda: committed_progress(dst, group, TOPIC, PARTITIONS, stable=False)
                   == {0: 150, 1: 150}, 90, "the replicator catching up", alive=[r2])
        # Every source record once, in order: the 60 records per partition between 40 and 100
        # were not copied a second time.
        assert_replicated(consume_all(src, TOPIC), consume_all(dst, TOPIC),
                          kafka_pair.source_alias, TOPIC)
        text = r2.log_text()
        for q in range(PARTITIONS):
            assert (f"{TOPIC}[{q}]: the progress committed on the target is not stable yet "
                    f"(40); the state dir holds committed progress up to 100") in text, text
            assert f"{TOPIC}[{q}] -> {TOPIC}[{q}]: copying from offset 100" in text, text
        assert r2.stop() == 0
    finally:
        stray.abort_transaction(60)


def test_a_commit_the_state_dir_prepared_is_settled_by_the_target(kafka_pair, tmp_path):
    """The replicator dies once before a transaction's commit and once after it, each time
    before the state dir stores the commit, while the target cannot say how far it got."""
    topic = "prepared-progress"
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    settings = {"topics": {"include": [topic]},
                "transactional_id": "tern-replicator.prepared-progress"}
    stray = copy_then_unsettle(kafka_pair, tmp_path, topic, settings)
    try:
        # Dies with its first transaction open: the commit it prepared never happened.
        r2 = kafka_pair.replicator(tmp_path / "replicator", **settings)
        r2.failpoints = ["replicator.before-target-commit"]
        assert r2.start().wait_exit(120) == 86, r2.log_text()
        # Aborts that transaction (init_transactions), settles it as aborted, resumes from
        # the state dir's 100, and dies right after its first transaction committed.
        r3 = kafka_pair.replicator(tmp_path / "replicator", **settings)
        r3.failpoints = ["replicator.after-target-commit"]
        assert r3.start().wait_exit(120) == 86, r3.log_text()
        text = r3.log_text()
        assert "aborted on the target; dropped" in text, text
        for q in range(PARTITIONS):
            assert f"{topic}[{q}] -> {topic}[{q}]: copying from offset 100" in text, text
        # As after a target restart that left that commit's offsets pending: the target's
        # last committed offsets predate it.
        set_back(dst, r3.progress_group, topic, 40)
        produce(producer(src), topic, records(300, 340))

        r4 = kafka_pair.replicator(tmp_path / "replicator", **settings).start()
        wait_until(lambda: committed_progress(dst, r4.progress_group, topic, PARTITIONS,
                                              stable=False) == {0: 170, 1: 170},
                   150, "the replicator catching up", alive=[r4])
        # Every source record once, in order: neither what the aborted transaction held was
        # lost, nor what the committed one copied copied again.
        assert_replicated(consume_all(src, topic), consume_all(dst, topic),
                          kafka_pair.source_alias, topic)
        text = r4.log_text()
        stored = re.findall(rf"{topic}\[(\d)\]: the state dir prepared a commit up to (\d+) "
                            r"and did not store it; its last record \(offset \d+ of "
                            rf"{topic}\[\d\]\) is committed on the target", text)
        assert stored, text
        for q, at in stored:
            assert int(at) > 100, text
            assert f"{topic}[{q}] -> {topic}[{q}]: copying from offset {at}" in text, text
        assert r4.stop() == 0
    finally:
        stray.abort_transaction(60)
