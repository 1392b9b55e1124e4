"""tern-replicator under faults of its surroundings:

- records deleted at the source before they were copied (retention, here DeleteRecords, which
  moves the log start the same way) are reported with their count and offsets (an error in the
  log, the records-lost counter of /metrics), and copying continues after the gap;
- a source topic deleted and re-created is reported (log, source-resets counter), and its new
  records are copied after what the target already has;
- two replicators in opposite directions on the same topic (identity naming) copy each record
  once: the provenance header stops records from travelling back;
- a target that does not exist yet: the replicator keeps retrying and replicates once a cluster
  comes up at that address;
- a target that takes records slower than the source gives them, with the smallest buffer: the
  copy loop pauses fetching over and over and still copies every committed record once.
"""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition

from harness.kafka import KafkaPeer
from harness.ports import free_port
from harness.replicator import TernReplicator
from support import (ORIGIN_HEADER, admin, assert_replicated, committed_progress, consume_all,
                     create_topic, delete_topic, metric, produce, producer, topic_names,
                     wait_caught_up, wait_until, watermarks)


def values(n: int, partitions: int, prefix: str, first: int = 0) -> list[dict]:
    """Records `first`..`first+n-1` round-robin over the partitions, valued "<prefix>-<i>"."""
    return [{"partition": i % partitions, "key": b"%d" % i,
             "value": b"%s-%d" % (prefix.encode(), i)} for i in range(first, first + n)]


def test_records_deleted_before_they_were_copied_are_reported_and_skipped(kafka_pair, tmp_path):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, "gap", 2, config={"segment.bytes": "1048576", "retention.ms": "3600000"})
    port = free_port()
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["gap"]},
                              transactional_id="tern-replicator.gap",
                              metrics={"listen": f"127.0.0.1:{port}"}).start()
    p = producer(src)
    produce(p, "gap", values(200, 2, "copied"))
    wait_caught_up(r, {"gap": "gap"})
    assert r.stop() == 0
    copied = consume_all(src, "gap")

    # While it is down: 500 more per partition, and the oldest of them deleted.
    produce(p, "gap", values(1000, 2, "later", first=200))
    a = admin(src)
    deleted = a.delete_records([TopicPartition("gap", 0, 400), TopicPartition("gap", 1, 250)])
    for f in deleted.values():
        f.result(timeout=30)
    assert watermarks(src, "gap") == {0: (400, 600), 1: (250, 600)}

    r.start()
    for line in ("gap[0]: 300 records (offsets 100..399) were deleted by the source's retention "
                 "before they were copied",
                 "gap[1]: 150 records (offsets 100..249) were deleted by the source's retention "
                 "before they were copied"):
        r.wait_for_log(line, timeout=60)
        assert any("[error]" in l for l in r.log_text().splitlines() if line in l), \
            f"not logged as an error: {line}"
    assert metric(port, "tern_replicator_source_records_lost_total") == 450

    produce(p, "gap", values(100, 2, "after", first=1200))
    wait_caught_up(r, {"gap": "gap"})
    remaining = consume_all(src, "gap")
    expected = {q: copied[q] + remaining[q] for q in (0, 1)}
    assert [len(v) for v in expected.values()] == [100 + 250, 100 + 400]
    assert_replicated(expected, consume_all(dst, "gap"), "src", what="gap")
    assert r.stop() == 0


def test_a_topic_recreated_at_the_source_is_reported_and_its_new_records_copied(kafka_pair,
                                                                                tmp_path):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, "reborn", 2)
    port = free_port()
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["reborn"]},
                              transactional_id="tern-replicator.reborn",
                              metrics={"listen": f"127.0.0.1:{port}"}).start()
    produce(producer(src), "reborn", values(600, 2, "first life"))
    wait_caught_up(r, {"reborn": "reborn"})
    assert r.stop() == 0
    old = consume_all(src, "reborn")

    delete_topic(src, "reborn")
    wait_until(lambda: "reborn" not in topic_names(src), 60, "reborn deleted at the source")
    # The deletion finishes in the background; creating may be refused until it has.
    wait_until(lambda: create_topic(src, "reborn", 2) or True, 60, "reborn created again")
    produce(producer(src), "reborn", values(200, 2, "second life"))

    r.start()
    for q in (0, 1):
        r.wait_for_log(f"reborn[{q}]: the source partition ends at 100 but offsets up to 300 were "
                       f"already copied: the topic was re-created or truncated at the source",
                       timeout=60)
    assert metric(port, "tern_replicator_source_resets_total") == 2
    assert metric(port, "tern_replicator_source_records_lost_total") == 0
    new = consume_all(src, "reborn")
    expected = {q: old[q] + new[q] for q in (0, 1)}
    wait_until(lambda: [len(v) for v in consume_all(dst, "reborn").values()] == [400, 400], 120,
               "400 records in each target partition", alive=[r])
    assert_replicated(expected, consume_all(dst, "reborn"), "src", what="reborn")
    wait_until(lambda: committed_progress(dst, r.progress_group, "reborn", 2) == {0: 100, 1: 100},
               60, "progress at the new ends", alive=[r])
    assert r.stop() == 0


def test_two_way_replication_copies_each_record_once(kafka_pair, tmp_path):
    a, b = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    for side in (a, b):
        create_topic(side, "loop", 2)
    ab = kafka_pair.replicator(tmp_path / "a-to-b", topics={"include": ["loop"]}).start()
    ba = kafka_pair.replicator(tmp_path / "b-to-a", reverse=True,
                               topics={"include": ["loop"]}).start()
    try:
        produce(producer(a), "loop", values(1000, 2, "from A"))
        produce(producer(b), "loop", values(1000, 2, "from B"))

        state = {}

        def settled() -> bool:
            # Each replicator has looked at every record on its source (it committed positions
            # past the last one, in the same transactions as whatever it copied), and both
            # sides hold 2000 records.
            on_a, on_b = consume_all(a, "loop"), consume_all(b, "loop")
            state.update(a=on_a, b=on_b)
            for recs, r, target in ((on_a, ab, b), (on_b, ba, a)):
                progress = committed_progress(target, r.progress_group, "loop", 2)
                state[r.progress_group] = progress
                for q, rs in recs.items():
                    if rs and progress[q] < rs[-1].offset + 1:
                        return False
            return all(sum(len(v) for v in state[s].values()) >= 2000 for s in ("a", "b"))

        try:
            wait_until(settled, 120, "both replicators past every record", alive=[ab, ba])
        except AssertionError as e:
            counts = {s: sum(len(v) for v in state.get(s, {}).values()) for s in ("a", "b")}
            raise AssertionError(f"{e}; records on A and B: {counts}; progress: "
                                 f"{ {k: v for k, v in state.items() if k not in ('a', 'b')} }")
    finally:
        assert ab.stop() == 0
        assert ba.stop() == 0

    for name, recs, here, there in (("A", state["a"], "from A", "from B"),
                                    ("B", state["b"], "from B", "from A")):
        everything = [r for rs in recs.values() for r in rs]
        assert len(everything) == 2000, f"{name} holds {len(everything)} records, not 2000"
        native = [r for r in everything if not any(k == ORIGIN_HEADER for k, _ in r.headers)]
        copied = [r for r in everything if any(k == ORIGIN_HEADER for k, _ in r.headers)]
        assert sorted(r.value for r in native) == sorted(b"%s-%d" % (here.encode(), i)
                                                         for i in range(1000))
        assert sorted(r.value for r in copied) == sorted(b"%s-%d" % (there.encode(), i)
                                                         for i in range(1000))
        other = "src" if name == "B" else "dst"
        assert all(r.headers == ((ORIGIN_HEADER, other.encode()),) for r in copied), \
            f"records copied to {name} carry other headers than one {ORIGIN_HEADER}={other}"


@pytest.mark.timeout(600)
def test_a_target_that_comes_up_late_is_replicated_to(kafka_pair, tmp_path):
    src = kafka_pair.source.bootstrap
    create_topic(src, "late-target", 2)
    produce(producer(src), "late-target", values(300, 2, "waiting"))
    port = free_port()
    r = TernReplicator(tmp_path / "replicator", ("src", src), ("late", f"127.0.0.1:{port}"),
                       extra={"topics": {"include": ["late-target"]}}).start()
    late = KafkaPeer(tmp_path / "late-kafka")
    try:
        # It retries with back-off (the log says so) and stays up.
        r.wait_for_log("retrying in", timeout=120, count=2)
        assert r.running()
        late.start(attempts=1, port=port)
        wait_caught_up(r, {"late-target": "late-target"}, timeout=240)
        assert_replicated(consume_all(src, "late-target"),
                          consume_all(late.bootstrap, "late-target"), "src", what="late-target")
    finally:
        stopped = r.stop()
        late.stop()
    assert stopped == 0


@pytest.mark.timeout(300)
def test_back_pressure_with_the_smallest_buffer_copies_every_record_once(kafka_pair, tmp_path):
    """max_buffered_bytes at its 1 MiB minimum and a source 40 times that, written in
    transactions (every fifth aborted, so its log holds markers and aborted records to step
    over): the producer's queue fills, then the copy loop's own, fetching is paused and resumed
    at the position of the last record taken, again and again. Exactly-once, the target must
    hold each committed record once, in order."""
    from confluent_kafka import Producer
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, "squeezed", 3)
    p = Producer({"bootstrap.servers": src, "transactional.id": "tern-tests.squeezed",
                  "linger.ms": 20})
    p.init_transactions(30)
    payload = bytes(range(256)) * 8  # 2 KiB
    for t in range(40):
        p.begin_transaction()
        for n in range(500):
            p.produce("squeezed", key=b"%d-%d" % (t, n), value=payload + b"%d-%d" % (t, n),
                      partition=n % 3)
            p.poll(0)
        p.flush(30)
        if t % 5 == 4:
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
    source = consume_all(src, "squeezed")
    assert sum(len(v) for v in source.values()) == 32 * 500
    port = free_port()
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["squeezed"]},
                              transactional_id="tern-replicator.squeezed",
                              max_buffered_bytes=1048576,
                              metrics={"listen": f"127.0.0.1:{port}"}).start()
    wait_caught_up(r, {"squeezed": "squeezed"}, timeout=240)
    assert metric(port, "tern_replicator_fetch_pauses_total") > 0, \
        "fetching was never paused: the test did not exercise back-pressure"
    assert_replicated(source, consume_all(dst, "squeezed"), "src", what="squeezed")
    assert r.stop() == 0
