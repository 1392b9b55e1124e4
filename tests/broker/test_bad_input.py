"""Malformed and hostile protocol input over raw sockets: tern-broker closes that one connection
or answers with the right Kafka error, stays up, its neighbours (an open confluent-kafka producer
and consumer) carry on, and the data it stored before is unchanged.
"""

from __future__ import annotations

import random
import signal
import socket
import struct
import time

import pytest
from confluent_kafka import KafkaError, TopicPartition

import kafka_wire as wire
from harness.tern import TernBroker
from tern_fixtures import Rec, consume_all, consumer, create_topic, produce_all, producer, tern

__all__ = ["tern"]


class Neighbours:
    """A producer and a consumer that stay connected while a test misbehaves next to them."""

    topic = "steady"

    def __init__(self, broker: TernBroker):
        self.broker = broker
        create_topic(broker.bootstrap, self.topic, 1)
        self.producer = producer(broker.bootstrap, linger_ms=0, request_timeout_ms=5000,
                                 message_timeout_ms=8000)
        self.expected = [Rec(0, i, b"k%d" % i, b"stored before %d" % i, (("h", b"x"),), 1_700_000_000_000 + i)
                         for i in range(10)]
        produce_all(self.producer, self.topic, self.expected)
        self.consumer = consumer(broker.bootstrap, fetch_wait_max_ms=100)
        self.consumer.assign([TopicPartition(self.topic, 0, 0)])
        assert [m.offset() for m in self.receive(10)] == list(range(10))

    def receive(self, n: int, timeout: float = 30):
        got, deadline = [], time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline and self.broker.running():
            for m in self.consumer.consume(num_messages=n - len(got), timeout=0.5):
                if m.error() is None:
                    got.append(m)
                else:
                    assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
        return got

    def carry_on(self) -> None:
        """The broker is up, the open producer and consumer still work, old data is intact."""
        assert_alive(self.broker)
        n = len(self.expected)
        rec = Rec(0, n, b"k%d" % n, b"written after the bad input %d" % n, (), 1_700_000_000_000 + n)
        try:
            assert produce_all(self.producer, self.topic, [rec]) == [(0, n)]
            self.expected.append(rec)
            got = self.receive(1)
            assert [(m.offset(), m.value()) for m in got] == [(n, rec.value)], \
                "the open consumer stalled"
            assert consume_all(self.broker.bootstrap, self.topic, 1)[0] == self.expected
        except Exception:
            assert_alive(self.broker)
            raise
        assert_alive(self.broker)

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(10)


@pytest.fixture
def neighbours(tern):
    n = Neighbours(tern)
    yield n
    n.close()


def assert_alive(broker: TernBroker) -> None:
    """tern-broker is still running and answers a new connection."""
    time.sleep(0.2)  # a crash caused by the last request has happened by now
    if not broker.running():
        code = broker.process.proc.returncode
        name = signal.Signals(-code).name if code is not None and code < 0 else f"exit {code}"
        raise AssertionError(f"tern-broker died: {name}")
    with wire.Connection(broker.bootstrap) as conn:
        assert wire.Reader(conn.request(wire.API_VERSIONS, 0, b"")).take("h") == wire.NONE


def assert_closed(conn: wire.Connection, timeout: float = 20) -> None:
    """The broker closes the connection without answering."""
    conn.sock.settimeout(timeout)
    assert conn.closed_by_peer()


# --- framing ----------------------------------------------------------------------------------

def test_truncated_frame_then_eof_closes_the_connection(tern, neighbours):
    with wire.Connection(tern.bootstrap) as conn:
        whole = wire.frame(wire.METADATA, 1, 1, wire.metadata_body([Neighbours.topic]))
        conn.send_raw(whole[:len(whole) // 2])
        conn.sock.shutdown(socket.SHUT_WR)
        assert_closed(conn)
    neighbours.carry_on()


@pytest.mark.parametrize("size", [0x7FFFFFFF, 2**31 - 2, -1, -2**31, 0, 3, 7])
def test_absurd_frame_size_closes_the_connection(tern, neighbours, size):
    with wire.Connection(tern.bootstrap) as conn:
        conn.send_raw(struct.pack(">i", size) + b"\x00" * 16)
        assert_closed(conn)
    neighbours.carry_on()


def test_unknown_api_key_closes_the_connection(tern, neighbours):
    with wire.Connection(tern.bootstrap) as conn:
        conn.send(9999, 0, b"\x00" * 16)
        assert_closed(conn)
    with wire.Connection(tern.bootstrap) as conn:
        conn.send(-1, 0, b"")
        assert_closed(conn)
    neighbours.carry_on()


def test_unsupported_version_closes_the_connection(tern, neighbours):
    with wire.Connection(tern.bootstrap) as conn:
        conn.send(wire.METADATA, 99, wire.metadata_body(None))
        assert_closed(conn)
    with wire.Connection(tern.bootstrap) as conn:
        conn.send(wire.PRODUCE, -1, b"")
        assert_closed(conn)
    neighbours.carry_on()


def test_apiversions_of_an_unknown_version_answers_unsupported_version(tern, neighbours):
    """KIP-511: the broker answers a too-new ApiVersions with UNSUPPORTED_VERSION and its own
    ApiVersions range, in a v0 body, so that the client can retry lower."""
    with wire.Connection(tern.bootstrap) as conn:
        # Request header v2 (client id, no tags) and a v3-shaped body, as a newer client sends.
        header = struct.pack(">hhi", wire.API_VERSIONS, 99, 1) + wire.string("tern-tests") + b"\x00"
        body = b"\x0btern-tests\x041.0\x00"
        conn.send_raw(struct.pack(">i", len(header) + len(body)) + header + body)
        conn.next_id = 2
        body = conn.receive(1)
        r = wire.Reader(body)
        assert r.take("h") == wire.UNSUPPORTED_VERSION
        apis = r.array(lambda: r.take("hhh"))
        assert any(key == wire.API_VERSIONS and lo == 0 for key, lo, _ in apis), apis
        # The connection stays usable: a supported version is then answered normally.
        body = conn.request(wire.API_VERSIONS, 0, b"")
        assert wire.Reader(body).take("h") == wire.NONE
    neighbours.carry_on()


@pytest.mark.parametrize("api,version", [(wire.METADATA, 1), (wire.PRODUCE, 3), (wire.FETCH, 4),
                                         (wire.LIST_OFFSETS, 1), (wire.API_VERSIONS, 3)])
def test_garbage_after_a_valid_header_is_refused(tern, neighbours, api, version):
    rng = random.Random(api * 100 + version)
    for length in (1, 7, 64, 1000):
        junk = bytes(rng.randrange(256) for _ in range(length))
        with wire.Connection(tern.bootstrap) as conn:
            cid = conn.send(api, version, junk)
            conn.sock.settimeout(20)
            try:
                conn.receive(cid)  # an error response is acceptable, as is closing
            except ConnectionError:
                pass
        assert tern.running(), f"tern-broker died on {length} junk bytes after a header"
    neighbours.carry_on()


def test_random_frames_do_not_hurt_the_broker(tern, neighbours):
    rng = random.Random(20240611)
    for i in range(150):
        length = rng.choice([8, 9, 12, 20, 50, 200, 3000])
        payload = bytes(rng.randrange(256) for _ in range(length))
        if i % 2:  # a plausible header: a served API and version, then junk
            payload = struct.pack(">hhi", rng.choice([0, 1, 2, 3, 18, 19, 20]),
                                  rng.randrange(0, 14), i) + payload[8:]
        with socket.create_connection(("127.0.0.1", tern.port), timeout=20) as s:
            s.sendall(struct.pack(">i", len(payload)) + payload)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
    neighbours.carry_on()


# --- record batches ---------------------------------------------------------------------------

def test_produce_with_a_bad_crc_is_refused_as_corrupt_message(tern, neighbours):
    topic = Neighbours.topic
    batch = wire.record_batch([(b"evil", b"must not be stored")])
    with wire.Connection(tern.bootstrap) as conn:
        answer = wire.parse_produce(conn.request(
            wire.PRODUCE, 3, wire.produce_body(topic, 0, wire.flip_crc(batch))))
        assert answer[(topic, 0)] == (wire.CORRUPT_MESSAGE, -1), answer
        # The same connection carries on, and the log did not move.
        listed = wire.parse_list_offsets(conn.request(
            wire.LIST_OFFSETS, 1, wire.list_offsets_body(topic, 0, -1)))
        assert listed[(topic, 0)][2] == len(neighbours.expected)
    neighbours.carry_on()


@pytest.mark.parametrize("damage", ["cut short", "length too long", "length too short",
                                    "record count too high", "magic 1"])
def test_produce_with_a_malformed_batch_is_refused(tern, neighbours, damage):
    topic = Neighbours.topic
    batch = bytearray(wire.record_batch([(b"a", b"one"), (b"b", b"two")]))
    if damage == "cut short":
        batch = batch[:-5]
    elif damage == "length too long":
        batch[8:12] = struct.pack(">i", len(batch) - 12 + 40)
    elif damage == "length too short":
        batch[8:12] = struct.pack(">i", len(batch) - 12 - 10)
    elif damage == "record count too high":
        batch[57:61] = struct.pack(">i", 5)
    elif damage == "magic 1":
        batch[16] = 1
    with wire.Connection(tern.bootstrap) as conn:
        cid = conn.send(wire.PRODUCE, 3, wire.produce_body(topic, 0, bytes(batch)))
        try:
            answer = wire.parse_produce(conn.receive(cid))
            error, _ = answer[(topic, 0)]
            assert error in (wire.CORRUPT_MESSAGE, 87), f"{damage}: {answer}"  # 87 INVALID_RECORD
        except ConnectionError:
            pass  # closing the connection is acceptable too
    neighbours.carry_on()


# --- clients that go away ---------------------------------------------------------------------

def test_client_gone_while_its_fetch_waits_does_not_kill_the_broker(tern, neighbours):
    """A consumer's long-poll Fetch is parked; the consumer disconnects; a record arrives and
    wakes the fetch, whose answer (sent with sendfile) now goes to a closed socket. The broker
    must drop that connection and live on."""
    topic = Neighbours.topic
    end = len(neighbours.expected)
    for _ in range(3):
        conn = wire.Connection(tern.bootstrap)
        conn.send(wire.FETCH, 4, wire.fetch_body(topic, 0, end, max_wait_ms=20000))
        time.sleep(0.5)  # let the broker park the fetch
        conn.close()
        neighbours.carry_on()
        end += 1
