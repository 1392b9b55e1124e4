"""tern-broker keeps every acknowledged record: kill -9 under acks=all load, again and again,
then restart on the same data directory and read everything back; a clean SIGTERM shutdown
and restart loses nothing; offsets continue after a restart.

The load comes from acked_producer.py in its own process, which records each acknowledgement
(partition, offset, value) as it arrives. With retries off, every value is sent at most once,
so the log may hold records that were never acknowledged (written, then the broker died before
answering) but never the same value twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import TopicPartition

from harness.tern import TernBroker
from tern_fixtures import (Rec, assert_same_records, consume_all, consumer, create_topic,
                           produce_all, producer, tern)

__all__ = ["tern"]

PRODUCER = Path(__file__).with_name("acked_producer.py")
SEQUENCE_STRIDE = 10_000_000  # values of load run i are i*STRIDE, i*STRIDE+1, ...


def read_acks(path: Path) -> list[tuple[int, int, int]]:
    if not path.exists():
        return []
    out = []
    # The producer may be writing its last line right now: read whole lines only.
    for line in path.read_text().split("\n")[:-1]:
        partition, offset, value = line.split()
        out.append((int(partition), int(offset), int(value)))
    return out


def start_load(broker: TernBroker, topic: str, partitions: int, run: int, ack_file: Path):
    log = open(ack_file.with_suffix(".log"), "ab")
    try:
        return subprocess.Popen(
            [sys.executable, str(PRODUCER), broker.bootstrap, topic, str(partitions),
             str(run * SEQUENCE_STRIDE), str(ack_file)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def stop_load(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for_acks(path: Path, proc: subprocess.Popen, minimum: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(read_acks(path)) >= minimum:
            return
        assert proc.poll() is None, f"the load generator exited with {proc.returncode}"
        time.sleep(0.02)
    raise AssertionError(f"no acknowledgement within {timeout} s")


def check_log(bootstrap: str, topic: str, partitions: int, acked: list[tuple[int, int, int]],
              runs: int) -> dict[int, list[Rec]]:
    """Every acknowledged record at its offset; no value twice; only values the load sent, in
    the order they were sent; offsets gap-free (the consumer would see a gap)."""
    log = consume_all(bootstrap, topic, partitions, timeout=120, with_timestamps=False)
    values: dict[int, list[int]] = {}
    for p, recs in log.items():
        assert [r.offset for r in recs] == list(range(len(recs))), f"partition {p} has offset gaps"
        values[p] = [int(r.value) for r in recs]
    missing = [(p, o, v) for p, o, v in acked if o >= len(values[p]) or values[p][o] != v]
    assert not missing, (f"{len(missing)} of {len(acked)} acknowledged records are lost or moved, "
                         f"first (partition, offset, value): {missing[:10]}; found there: "
                         f"{[values[p][o] if o < len(values[p]) else None for p, o, _ in missing[:10]]}")
    everything = [v for vs in values.values() for v in vs]
    assert len(everything) == len(set(everything)), "a value is stored twice although retries are off"
    for p, vs in values.items():
        assert all(v % partitions == p and v // SEQUENCE_STRIDE < runs for v in vs), \
            f"partition {p} holds values the load never sent to it"
        assert vs == sorted(vs), f"partition {p}: values out of the order they were sent in"
    return log


def test_kill_9_under_acks_all_load_loses_no_acknowledged_record(tmp_path):
    runs, partitions, topic = 20, 3, "durable"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"random seed {seed}")
    broker = TernBroker(tmp_path / "tern").start()
    try:
        create_topic(broker.bootstrap, topic, partitions)
        acked: list[tuple[int, int, int]] = []
        for run in range(runs):
            ack_file = tmp_path / f"acks-{run}.txt"
            load = start_load(broker, topic, partitions, run, ack_file)
            try:
                wait_for_acks(ack_file, load)
                time.sleep(rng.uniform(0.05, 0.6))
                broker.kill()
            finally:
                stop_load(load)
            acked += read_acks(ack_file)
            broker.restart()
            # Cheap check after each crash: the log ends past every acknowledged offset.
            c = consumer(broker.bootstrap)
            try:
                ends = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                        for p in range(partitions)]
            finally:
                c.close()
            for p, o, v in acked:
                assert o < ends[p], (f"run {run} (seed {seed}): acknowledged offset {o} of "
                                     f"partition {p} (value {v}) is past the log end {ends[p]}")
        assert len(acked) >= runs, "too few acknowledgements for the test to mean anything"
        log = check_log(broker.bootstrap, topic, partitions, acked, runs)

        # New records continue at the recovered log end.
        ends = [len(log[p]) for p in range(partitions)]
        after = [Rec(p, ends[p], None, str(runs * SEQUENCE_STRIDE + p).encode()) for p in range(partitions)]
        assert produce_all(producer(broker.bootstrap), topic, after) == [(p, ends[p]) for p in range(partitions)]
        print(f"{len(acked)} acknowledged records, {sum(ends)} stored, over {runs} crashes")
    finally:
        broker.stop()


def test_sigterm_under_load_keeps_every_acknowledged_record(tmp_path):
    runs, partitions, topic = 3, 2, "graceful"
    broker = TernBroker(tmp_path / "tern").start()
    try:
        create_topic(broker.bootstrap, topic, partitions)
        acked: list[tuple[int, int, int]] = []
        for run in range(runs):
            ack_file = tmp_path / f"acks-{run}.txt"
            load = start_load(broker, topic, partitions, run, ack_file)
            try:
                wait_for_acks(ack_file, load, minimum=200)
                assert broker.stop() == 0, "tern-broker did not exit cleanly on SIGTERM"
            finally:
                stop_load(load)
            acked += read_acks(ack_file)
            broker.restart()
        check_log(broker.bootstrap, topic, partitions, acked, runs)
    finally:
        broker.stop()


def test_clean_restart_keeps_everything_and_offsets_continue(tern):
    topic, partitions = "restart", 3
    create_topic(tern.bootstrap, topic, partitions)
    first = [Rec(i % partitions, i // partitions, b"k%d" % i, b"first %d" % i, (("h", b"%d" % i),),
                 1_700_000_000_000 + i) for i in range(300)]
    produce_all(producer(tern.bootstrap), topic, first)
    assert tern.stop() == 0, "tern-broker did not exit cleanly on SIGTERM"
    tern.restart()
    assert_same_records(consume_all(tern.bootstrap, topic, partitions), first)

    second = [Rec(i % partitions, i // partitions, b"k%d" % i, b"second %d" % i, (),
                  1_700_000_001_000 + i) for i in range(300, 450)]
    reports = produce_all(producer(tern.bootstrap), topic, second)
    assert reports == [(r.partition, r.offset) for r in second], "offsets did not continue"
    tern.stop()
    tern.restart()
    assert_same_records(consume_all(tern.bootstrap, topic, partitions), first + second)
