"""tern-broker's recovery of damaged logs, with the damage done by hand while it is stopped:

- a torn tail of the last segment (garbage appended, the last batch cut anywhere) is cut back
  to the whole batches before it, and new records continue at the right offset;
- damage inside the log (valid batches after it) takes that one partition offline, reported as
  KAFKA_STORAGE_ERROR to Metadata, Produce, Fetch and ListOffsets, its files left untouched,
  while every other partition and topic carries on;
- deleted or garbled .index/.timeindex files are rebuilt: reads by offset and by timestamp
  still find the right batches.

Batches are written with hand-built Produce requests (kafka_wire.py) so that their boundaries
and timestamps are exactly known.
"""

from __future__ import annotations

import os

import pytest

import kafka_wire as wire
from harness.tern import TernBroker
from tern_fixtures import (Rec, batches_in, consume_all, create_topic, produce_all, producer,
                           segment_files)

BASE_TS = 1_700_000_000_000


def value(topic: str, partition: int, offset: int) -> bytes:
    return f"{topic}/{partition}/{offset} ".encode() * 3


def write_batches(bootstrap: str, topic: str, partition: int, sizes: list[int],
                  ts_of_batch=lambda b: BASE_TS + 1000 * b) -> list[Rec]:
    """Appends one batch per entry of `sizes` (that many records) with Produce v3 and returns the
    records as a consumer should see them."""
    expected, offset = [], 0
    with wire.Connection(bootstrap) as conn:
        for b, n in enumerate(sizes):
            pairs = [(b"k%d" % (offset + i), value(topic, partition, offset + i)) for i in range(n)]
            body = wire.produce_body(topic, partition, wire.record_batch(pairs, ts_of_batch(b)))
            answer = wire.parse_produce(conn.request(wire.PRODUCE, 3, body))
            assert answer[(topic, partition)] == (wire.NONE, offset), answer
            expected += [Rec(partition, offset + i, k, v, (), ts_of_batch(b))
                         for i, (k, v) in enumerate(pairs)]
            offset += n
    return expected


def check_serves_exactly(broker: TernBroker, topic: str, partition: int, partitions: int,
                         expected: list[Rec]) -> None:
    got = consume_all(broker.bootstrap, topic, [partition])[partition]
    assert got == expected, (f"{topic}-{partition}: read {len(got)} records, expected "
                             f"{len(expected)}; first difference at "
                             f"{next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))}")


def check_appends_continue(broker: TernBroker, topic: str, partition: int, partitions: int,
                           expected: list[Rec]) -> None:
    nxt = len(expected)
    extra = Rec(partition, nxt, b"after", b"appended after recovery", (), BASE_TS + 999_000)
    assert produce_all(producer(broker.bootstrap), topic, [extra]) == [(partition, nxt)]
    check_serves_exactly(broker, topic, partition, partitions, expected + [extra])


# --- torn tails -------------------------------------------------------------------------------

def cut(at: str):
    """Damage to the last batch of the last segment: keep the file up to a point in that batch."""
    def damage(path, last):
        keep = {"length field": 10, "batch header": 30, "records": last.size // 2,
                "one byte short": last.size - 1}[at]
        with open(path, "r+b") as f:
            f.truncate(last.position + keep)
    return damage


def append(data: bytes):
    def damage(path, last):
        with open(path, "ab") as f:
            f.write(data)
    return damage


def cut_then_append(data: bytes):
    def damage(path, last):
        cut("records")(path, last)
        append(data)(path, last)
    return damage


# (damage, whether the last batch survives)
TEARS = {
    "garbage appended": (append(os.urandom(173)), True),
    "zeros appended": (append(bytes(4096)), True),
    "a plausible header appended": (append(b"\x00" * 8 + (1000).to_bytes(4, "big") + b"\x00" * 4 + b"\x02"), True),
    "cut in the length field": (cut("length field"), False),
    "cut in the batch header": (cut("batch header"), False),
    "cut in the records": (cut("records"), False),
    "cut one byte short": (cut("one byte short"), False),
    "cut, then garbage": (cut_then_append(os.urandom(64)), False),
}


@pytest.mark.parametrize("shutdown", ["clean", "kill -9"])
@pytest.mark.parametrize("tear", list(TEARS))
def test_torn_tail_is_cut_back_to_whole_batches(tmp_path, tear, shutdown):
    damage, last_survives = TEARS[tear]
    topic = "torn"
    broker = TernBroker(tmp_path / "tern").start()
    try:
        create_topic(broker.bootstrap, topic, 1)
        sizes = [3, 1, 4, 1, 5]
        expected = write_batches(broker.bootstrap, topic, 0, sizes)
        broker.stop() if shutdown == "clean" else broker.kill()

        [log_file] = segment_files(broker.data_dir, topic, 0)
        batches = batches_in(log_file)
        assert [b.base_offset for b in batches] == [0, 3, 4, 8, 9]
        damage(log_file, batches[-1])
        if not last_survives:
            expected = expected[:batches[-1].base_offset]

        broker.restart()
        check_serves_exactly(broker, topic, 0, 1, expected)
        check_appends_continue(broker, topic, 0, 1, expected)
    finally:
        broker.stop()


# --- damage inside the log --------------------------------------------------------------------

def flip(offset_in_batch):
    """Damage to a batch in the middle of the log (valid batches follow it)."""
    def damage(path, batch):
        with open(path, "r+b") as f:
            where = batch.position + offset_in_batch(batch)
            f.seek(where)
            byte = f.read(1)[0]
            f.seek(where)
            f.write(bytes([byte ^ 0x5A]))
    return damage


DAMAGE = {
    "a record byte": flip(lambda b: b.size - 3),
    "the stored CRC": flip(lambda b: 18),
    "the magic byte": flip(lambda b: 16),
    "the batch length": flip(lambda b: 11),
    "the batch length's high byte": flip(lambda b: 8),
    "the base offset": flip(lambda b: 5),
}


def damaged_partition_is_offline(broker: TernBroker, topic: str, partition: int) -> None:
    with wire.Connection(broker.bootstrap) as conn:
        meta = wire.parse_metadata(conn.request(wire.METADATA, 1, wire.metadata_body([topic])))
        assert meta[(topic, partition)] == wire.KAFKA_STORAGE_ERROR, f"Metadata: {meta}"

        fetched = wire.parse_fetch(conn.request(wire.FETCH, 4, wire.fetch_body(topic, partition, 0)))
        assert fetched[(topic, partition)].error == wire.KAFKA_STORAGE_ERROR, fetched
        assert fetched[(topic, partition)].records == [], "served records of a corrupt log"

        listed = wire.parse_list_offsets(conn.request(
            wire.LIST_OFFSETS, 1, wire.list_offsets_body(topic, partition, -1)))
        assert listed[(topic, partition)][0] == wire.KAFKA_STORAGE_ERROR, listed

        produced = wire.parse_produce(conn.request(wire.PRODUCE, 3, wire.produce_body(
            topic, partition, wire.record_batch([(b"k", b"must not be stored")]))))
        assert produced[(topic, partition)][0] == wire.KAFKA_STORAGE_ERROR, produced


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_inside_the_log_takes_only_that_partition_offline(tmp_path, damage):
    broker = TernBroker(tmp_path / "tern").start()
    try:
        create_topic(broker.bootstrap, "bad", 2)
        create_topic(broker.bootstrap, "good", 1)
        sizes = [2, 3, 2, 4, 1, 2]
        bad0 = write_batches(broker.bootstrap, "bad", 0, sizes)
        bad1 = write_batches(broker.bootstrap, "bad", 1, sizes)
        good = write_batches(broker.bootstrap, "good", 0, sizes)
        broker.stop()

        [log_file] = segment_files(broker.data_dir, "bad", 0)
        DAMAGE[damage](log_file, batches_in(log_file)[2])
        damaged_bytes = log_file.read_bytes()

        broker.restart()
        damaged_partition_is_offline(broker, "bad", 0)
        check_serves_exactly(broker, "bad", 1, 2, bad1)
        check_serves_exactly(broker, "good", 0, 1, good)
        check_appends_continue(broker, "bad", 1, 2, bad1)
        check_appends_continue(broker, "good", 0, 1, good)
        broker.stop()
        assert log_file.read_bytes() == damaged_bytes, "the broker changed the corrupt log file"
        assert bad0  # written, and never to be served again
    finally:
        broker.stop()


def test_damage_in_an_earlier_segment_after_a_crash_takes_the_partition_offline(tmp_path):
    """Without the clean-shutdown marker every segment is scanned, not only the last."""
    broker = TernBroker(tmp_path / "tern").start()
    try:
        create_topic(broker.bootstrap, "segmented", 1, {"segment.bytes": "400"})
        create_topic(broker.bootstrap, "other", 1)
        write_batches(broker.bootstrap, "segmented", 0, [2] * 20)
        other = write_batches(broker.bootstrap, "other", 0, [2, 2])
        broker.kill()

        files = segment_files(broker.data_dir, "segmented", 0)
        assert len(files) >= 3, f"expected several segments, got {files}"
        first = batches_in(files[0])
        flip(lambda b: b.size - 3)(files[0], first[len(first) // 2])

        broker.restart()
        damaged_partition_is_offline(broker, "segmented", 0)
        check_serves_exactly(broker, "other", 0, 1, other)
        check_appends_continue(broker, "other", 0, 1, other)
    finally:
        broker.stop()


# --- indexes ----------------------------------------------------------------------------------

def reads_by_offset_and_time(broker: TernBroker, topic: str, expected: list[Rec],
                             batch_starts: list[int]) -> None:
    """Fetch from every offset finds the batch holding it; ListOffsets for every batch's
    timestamp (and just before it) finds that batch's first offset."""
    by_offset = {r.offset: r for r in expected}
    with wire.Connection(broker.bootstrap) as conn:
        for offset in range(0, len(expected), 7):
            got = wire.parse_fetch(conn.request(wire.FETCH, 4, wire.fetch_body(topic, 0, offset)))
            part = got[(topic, 0)]
            assert part.error == wire.NONE and part.records, f"fetch at {offset}: {part}"
            start = max(s for s in batch_starts if s <= offset)
            assert part.records[0][0] == start, f"fetch at {offset} began at {part.records[0][0]}"
            for o, k, v in part.records:
                assert (k, v) == (by_offset[o].key, by_offset[o].value), f"offset {o} differs"
        for b, start in enumerate(batch_starts):
            for ts in (BASE_TS + 1000 * b, BASE_TS + 1000 * b - 500):
                answer = wire.parse_list_offsets(conn.request(
                    wire.LIST_OFFSETS, 1, wire.list_offsets_body(topic, 0, ts)))
                assert answer[(topic, 0)][0] == wire.NONE and answer[(topic, 0)][2] == start, \
                    f"ListOffsets for {ts} (batch {b}): {answer[(topic, 0)]}"


@pytest.mark.parametrize("indexes", ["deleted", "garbled"])
def test_missing_or_garbled_indexes_are_rebuilt(tmp_path, indexes):
    broker = TernBroker(tmp_path / "tern").start()
    topic = "indexed"
    try:
        create_topic(broker.bootstrap, topic, 1,
                     {"segment.bytes": "4000", "index.interval.bytes": "100"})
        sizes = [1 + b % 4 for b in range(80)]
        expected = write_batches(broker.bootstrap, topic, 0, sizes)
        starts = [sum(sizes[:b]) for b in range(len(sizes))]
        reads_by_offset_and_time(broker, topic, expected, starts)
        broker.stop()

        index_files = [f for f in (broker.data_dir / f"{topic}-0").iterdir()
                       if f.suffix in (".index", ".timeindex")]
        assert len(index_files) >= 6, f"expected indexes of several segments: {index_files}"
        for f in index_files:
            if indexes == "deleted":
                f.unlink()
            else:
                f.write_bytes(os.urandom(max(24, f.stat().st_size)))

        broker.restart()
        reads_by_offset_and_time(broker, topic, expected, starts)
        check_appends_continue(broker, topic, 0, 1, expected)
    finally:
        broker.stop()
