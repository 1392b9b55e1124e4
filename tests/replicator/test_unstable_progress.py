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
"""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from support import (assert_replicated, committed_progress, consume_all, create_topic, produce,
                     producer, topic_names, wait_caught_up, wait_until)

TOPIC = "pending-progress"
PARTITIONS = 2


def records(start: int, end: int) -> list[dict]:
    return [{"partition": i % PARTITIONS, "key": b"%d" % i, "value": b"value-%d" % i}
            for i in range(start, end)]


def test_a_state_dir_ahead_of_an_unstable_answer_wins(kafka_pair, tmp_path):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, TOPIC, PARTITIONS)
    p = producer(src)
    produce(p, TOPIC, records(0, 200))
    settings = {"topics": {"include": [TOPIC]},
                "transactional_id": "tern-replicator.pending-progress"}
    r = kafka_pair.replicator(tmp_path / "replicator", **settings).start()
    wait_until(lambda: TOPIC in topic_names(dst), 60, f"target topic {TOPIC} created",
               alive=[r])
    wait_caught_up(r, {TOPIC: TOPIC})
    assert r.stop() == 0
    group = r.progress_group
    assert committed_progress(dst, group, TOPIC, PARTITIONS) == {0: 100, 1: 100}

    # The target's last committed offsets go back to 40 (the group has no members)...
    c = Consumer({"bootstrap.servers": dst, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(TOPIC, q, 40) for q in range(PARTITIONS)],
                 asynchronous=False)
        metadata = c.consumer_group_metadata()
    finally:
        c.close()
    # ...and another producer's open transaction holds offsets of the group pending, so a
    # stable read of them waits for as long as that transaction stays open.
    stray = Producer({"bootstrap.servers": dst, "transactional.id": "tern-tests.stray",
                      "transaction.timeout.ms": 300000})
    stray.init_transactions(60)
    stray.begin_transaction()
    stray.send_offsets_to_transaction(
        [TopicPartition(TOPIC, q, 10) for q in range(PARTITIONS)], metadata, 60)
    try:
        assert committed_progress(dst, group, TOPIC, PARTITIONS, stable=False) == {0: 40, 1: 40}
        produce(p, TOPIC, records(200, 300))
        r2 = kafka_pair.replicator(tmp_path / "replicator", **settings).start()
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
