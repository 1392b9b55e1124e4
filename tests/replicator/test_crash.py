"""tern-replicator survives kill -9 at any moment.

Exactly-once, Apache Kafka -> Apache Kafka and tern-broker -> tern-broker (the target's
transactions are tern-broker's): while a producer keeps writing numbered records to the source,
the replicator is killed at 22 random moments (0.2-2 s after an instance began copying, or after it started) and
started again on the same state directory. Once it has caught up, the target, read with
read_committed, holds every source record exactly once, in order: each target partition equals
its source partition record for record. The progress committed on the target never goes back.

At-least-once: the same with 5 kills; nothing may be lost and the order within each partition
holds (a restart may only go back to an earlier position and copy forward again); duplicates are
allowed and counted.
"""

from __future__ import annotations

import random
import time

import pytest

from harness.replicator import TernReplicator
from harness.tern import TernBroker
from support import (ORIGIN_HEADER, NumberedLoad, assert_replicated, committed_progress,
                     consume_all, create_topic, describe, wait_caught_up, wait_until)

PARTITIONS = 3


def total_progress(replicator, topics: list[str]) -> int:
    return sum(max(o, 0) for t in topics for o in committed_progress(
        replicator.target_bootstrap, replicator.progress_group, t, PARTITIONS,
        stable=False).values())


def kill_repeatedly(replicator, kills: int, rng: random.Random, topics: list[str]) -> list[int]:
    """Kills the running replicator and starts it again, `kills` times. Each kill comes 0.2-2 s
    after the instance began copying (it logs where each partition starts), so that kills land
    in open transactions, in commits and between them; every fourth one 0.2-2 s after the
    process started instead, which hits start-up (fencing the previous instance, reading the
    committed progress) too. Returns the progress committed on the target after each kill."""
    progress = []
    copying = 0
    for k in range(kills):
        if k % 4 != 3:
            wait_until(lambda: replicator.log_text().count("copying from") > copying, 60,
                       "the replicator copying", interval=0.05, alive=[replicator])
        time.sleep(rng.uniform(0.2, 2.0))
        assert replicator.running(), f"tern-replicator exited by itself\n" \
                                     f"{replicator.process.log_tail()}"
        replicator.kill()
        progress.append(total_progress(replicator, topics))
        copying = replicator.log_text().count("copying from")
        replicator.start()
    # The last instance past its start-up before anyone stops it: a stop within its first
    # milliseconds (the dynamic loader, before main) would end it by the signal's default.
    wait_until(lambda: replicator.log_text().count("copying from") > copying, 60,
               "the last instance copying", interval=0.05, alive=[replicator])
    return progress


def kill_under_load_exactly_once(r, source: str, target: str, origin: str, topics: list[str],
                                 total: int, kills: int) -> None:
    """Writes `total` numbered records to `topics` at the source while `r` is killed `kills`
    times at random moments (once it has caught up, so that instances have little to copy and
    commit between kills); then every target partition equals its source partition."""
    seed = random.randrange(1 << 30)
    print(f"random seed {seed}")
    for t in topics:
        create_topic(source, t, PARTITIONS)
    load = NumberedLoad(source, topics, PARTITIONS, rate=2000, total=total)
    load.start()
    try:
        r.start()
        wait_until(lambda: load.sent >= 5000, 60, "5000 records at the source")
        wait_caught_up(r, {t: t for t in topics}, timeout=120)
        progress = kill_repeatedly(r, kills, random.Random(seed), topics)
        load.finish()
        print(f"progress committed after each kill: {progress}")
        assert progress == sorted(progress), "committed progress went backwards"
        wait_caught_up(r, {t: t for t in topics}, timeout=240)
    finally:
        load.halt()
        stopped = r.stop()
    assert stopped == 0, "tern-replicator did not exit cleanly on SIGTERM"
    assert r.log_text().count(f"replicating {origin} -> ") == kills + 1
    for t in topics:
        src = consume_all(source, t)
        assert sum(len(v) for v in src.values()) == total // len(topics)
        assert_replicated(src, consume_all(target, t), origin, what=f"{t} (seed {seed})")


@pytest.mark.timeout(900)
def test_kill_9_at_random_moments_copies_every_record_exactly_once(kafka_pair, tmp_path):
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["crash-.*"]},
                              transactional_id="tern-replicator.crash")
    kill_under_load_exactly_once(r, kafka_pair.source.bootstrap, kafka_pair.target.bootstrap,
                                 "src", ["crash-a", "crash-b"], 100_000, 22)


@pytest.mark.timeout(900)
def test_kill_9_into_tern_broker_copies_every_record_exactly_once(tmp_path):
    source = TernBroker(tmp_path / "tern-source").start()
    target = TernBroker(tmp_path / "tern-target").start()
    try:
        r = TernReplicator(tmp_path / "replicator", ("east", source.bootstrap),
                           ("west", target.bootstrap),
                           extra={"topics": {"include": ["tcrash-.*"]},
                                  "transactional_id": "tern-replicator.tcrash"})
        kill_under_load_exactly_once(r, source.bootstrap, target.bootstrap, "east",
                                     ["tcrash-a", "tcrash-b"], 40_000, 22)
    finally:
        source.stop()
        target.stop()


def check_at_least_once(source: dict[int, list], target: dict[int, list], topic: str) -> int:
    """Every source record is on the target; each target record is a source record (with the
    provenance header); within a partition the target moves forward one record at a time or
    jumps back (a restart re-copying), never ahead. Returns the number of duplicates."""
    duplicates = 0
    for p, src in source.items():
        index = {r.value: i for i, r in enumerate(src)}
        tgt = target.get(p, [])
        seen: set[int] = set()
        previous = -1
        for t in tgt:
            i = index.get(t.value)
            assert i is not None, f"{topic}[{p}]: target record not from the source: {describe(t)}"
            s = src[i]
            assert (t.key, t.value, t.headers, t.timestamp) == \
                (s.key, s.value, s.headers + ((ORIGIN_HEADER, b"src"),), s.timestamp), \
                f"{topic}[{p}]: source {describe(s)}, target {describe(t)}"
            assert i <= previous + 1, (f"{topic}[{p}]: the target skips from source record "
                                       f"#{previous} to #{i}")
            duplicates += i in seen
            seen.add(i)
            previous = i
        lost = len(src) - len(seen)
        assert lost == 0, (f"{topic}[{p}]: {lost} of {len(src)} source records missing on the "
                           f"target, first #{min(set(range(len(src))) - seen)}")
    return duplicates


@pytest.mark.timeout(600)
def test_at_least_once_loses_nothing_across_kills(kafka_pair, tmp_path, record_property):
    topics, total, kills = ["alo-a", "alo-b"], 30_000, 5
    seed = random.randrange(1 << 30)
    print(f"random seed {seed}")
    src = kafka_pair.source.bootstrap
    for t in topics:
        create_topic(src, t, PARTITIONS)
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["alo-.*"]},
                              transactional_id="tern-replicator.alo", delivery="at-least-once")
    load = NumberedLoad(src, topics, PARTITIONS, rate=2500, total=total)
    load.start()
    try:
        r.start()
        wait_until(lambda: load.sent >= 5000, 60, "5000 records at the source")
        wait_caught_up(r, {t: t for t in topics}, timeout=120)
        progress = kill_repeatedly(r, kills, random.Random(seed), topics)
        load.finish()
        print(f"progress committed after each kill: {progress}")
        wait_caught_up(r, {t: t for t in topics}, timeout=240)
    finally:
        load.halt()
        stopped = r.stop()
    assert stopped == 0, "tern-replicator did not exit cleanly on SIGTERM"

    duplicates = 0
    for t in topics:
        source = consume_all(src, t)
        assert sum(len(v) for v in source.values()) == total // len(topics)
        duplicates += check_at_least_once(source, consume_all(kafka_pair.target.bootstrap, t), t)
    record_property("duplicates", duplicates)
    print(f"at-least-once over {kills} kills: {duplicates} duplicates of {total} records")
