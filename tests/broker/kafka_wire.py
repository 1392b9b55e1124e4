"""Kafka requests built by hand, byte by byte, for the tests that need exact control over what
reaches tern-broker (malformed frames, corrupted CRCs, a Fetch that must long-poll) or exact
error codes that clients hide behind retries.

Only non-flexible versions are used (request header v1, response header v0): Produce v3,
Fetch v4, ListOffsets v1, Metadata v1, ApiVersions v0, InitProducerId v0-1 — except
init_producer_id(), which speaks every InitProducerId version, flexible ones included, and
end_txn() and produce_flexible(), which speak EndTxn v3-5 and Produce v9-12 (flexible). Record
batches are magic 2, uncompressed, CRC-32C as Kafka computes it; idempotent producers' batches
carry a producer id, epoch and base sequence.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from kafka.record import MemoryRecords
from kafka.record.util import calc_crc32c

PRODUCE, FETCH, LIST_OFFSETS, METADATA, API_VERSIONS, INIT_PRODUCER_ID = 0, 1, 2, 3, 18, 22
END_TXN = 26

# Kafka error codes the tests look for (apache/kafka Errors.java).
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
KAFKA_STORAGE_ERROR = 56
INVALID_RECORD = 87
PRODUCER_FENCED = 90


def string(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def nbytes(b: bytes | None) -> bytes:
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


def array(items: list[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


def varint(n: int) -> bytes:
    """A signed (zig-zag) varint, as record fields use."""
    return uvarint((n << 1) ^ (n >> 63))


def record_batch(values: list[tuple[bytes | None, bytes | None]], timestamp: int = 1_700_000_000_000,
                 base_offset: int = 0, producer_id: int = -1, producer_epoch: int = -1,
                 base_sequence: int = -1, transactional: bool = False) -> bytes:
    """A magic-2 uncompressed batch of (key, value) records, all with `timestamp`; an idempotent
    producer's when `producer_id` is not -1, part of its transaction when `transactional`."""
    records = b""
    for delta, (key, value) in enumerate(values):
        body = (b"\x00" + varint(0) + varint(delta)
                + (varint(-1) if key is None else varint(len(key)) + key)
                + (varint(-1) if value is None else varint(len(value)) + value)
                + varint(0))
        records += varint(len(body)) + body
    attributes = 0x10 if transactional else 0
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, timestamp, timestamp,
                            producer_id,
                            producer_epoch, base_sequence, len(values)) + records
    crc = calc_crc32c(after_crc)
    batch_length = 4 + 1 + 4 + len(after_crc)  # leader epoch, magic, crc, the rest
    return struct.pack(">qiibI", base_offset, batch_length, 0, 2, crc) + after_crc


def flip_crc(batch: bytes) -> bytes:
    """The batch with one bit of a record's value changed and the stored CRC left as it was."""
    b = bytearray(batch)
    b[-2] ^= 0x01
    return bytes(b)


def produce_body(topic: str, partition: int, records: bytes, acks: int = -1) -> bytes:
    """Produce v3."""
    return (string(None) + struct.pack(">hi", acks, 30000)
            + array([string(topic) + array([struct.pack(">i", partition) + nbytes(records)])]))


def fetch_body(topic: str, partition: int, offset: int, max_wait_ms: int = 0,
               min_bytes: int = 1) -> bytes:
    """Fetch v4."""
    return (struct.pack(">iiiib", -1, max_wait_ms, min_bytes, 16 << 20, 0)
            + array([string(topic) + array([struct.pack(">iqi", partition, offset, 8 << 20)])]))


def list_offsets_body(topic: str, partition: int, timestamp: int) -> bytes:
    """ListOffsets v1."""
    return struct.pack(">i", -1) + array(
        [string(topic) + array([struct.pack(">iq", partition, timestamp)])])


def metadata_body(topics: list[str] | None) -> bytes:
    """Metadata v1."""
    if topics is None:
        return struct.pack(">i", -1)
    return array([string(t) for t in topics])


def init_producer_id_body(version: int, transactional_id: str | None = None,
                          producer_id: int = -1, producer_epoch: int = -1,
                          timeout_ms: int = 60000) -> bytes:
    """InitProducerId v0-5; from v2 the body is flexible (compact string, tagged fields)."""
    if version < 2:
        return string(transactional_id) + struct.pack(">i", timeout_ms)
    if transactional_id is None:
        body = bytes([0])
    else:
        b = transactional_id.encode()
        body = bytes([len(b) + 1]) + b  # short ids only: one-byte unsigned varint
    body += struct.pack(">i", timeout_ms)
    if version >= 3:
        body += struct.pack(">qh", producer_id, producer_epoch)
    return body + b"\x00"


def flexible_request(conn: "Connection", api_key: int, version: int, body: bytes) -> bytes:
    """Request header v2 (client id, then no tags); returns the body after response header v1
    (a tags byte)."""
    cid = conn.next_id
    conn.next_id += 1
    payload = struct.pack(">hhi", api_key, version, cid) + string("tern-tests") + b"\x00" + body
    conn.send_raw(struct.pack(">i", len(payload)) + payload)
    answer = conn.receive(cid)
    assert answer[0] == 0, "unexpected tagged fields in the response header"
    return answer[1:]


def init_producer_id(conn: "Connection", version: int = 1, **kwargs) -> tuple[int, int, int]:
    """Sends InitProducerId at `version` and returns (error, producer id, epoch)."""
    body = init_producer_id_body(version, **kwargs)
    if version < 2:
        answer = conn.request(INIT_PRODUCER_ID, version, body)
    else:
        answer = flexible_request(conn, INIT_PRODUCER_ID, version, body)
    _throttle, error, producer_id, epoch = struct.unpack_from(">ihqh", answer)
    return error, producer_id, epoch


def compact_string(s: str | None) -> bytes:
    if s is None:
        return b"\x00"
    b = s.encode()
    return uvarint(len(b) + 1) + b


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


def produce_flexible(conn: "Connection", version: int, topic: str, partition: int,
                     records: bytes, transactional_id: str | None = None) -> tuple[int, int]:
    """Produce v9-12 (flexible, by topic name) of one partition with acks=all; returns its
    (error, base offset)."""
    assert 9 <= version <= 12
    body = (compact_string(transactional_id) + struct.pack(">hi", -1, 30000)
            + uvarint(2) + compact_string(topic) + uvarint(2) + struct.pack(">i", partition)
            + uvarint(len(records) + 1) + records + b"\x00" + b"\x00" + b"\x00")
    answer = flexible_request(conn, PRODUCE, version, body)
    _topics, pos = read_uvarint(answer, 0)
    name_length, pos = read_uvarint(answer, pos)
    pos += name_length - 1
    _partitions, pos = read_uvarint(answer, pos)
    _index, error, base_offset = struct.unpack_from(">ihq", answer, pos)
    return error, base_offset


def end_txn(conn: "Connection", version: int, transactional_id: str, producer_id: int,
            producer_epoch: int, committed: bool) -> tuple[int, int, int]:
    """EndTxn v3-5; returns (error, producer id, epoch), the last two -1 below v5."""
    assert 3 <= version <= 5
    b = transactional_id.encode()
    body = (bytes([len(b) + 1]) + b + struct.pack(">qh?", producer_id, producer_epoch, committed)
            + b"\x00")
    answer = flexible_request(conn, END_TXN, version, body)
    _throttle, error = struct.unpack_from(">ih", answer)
    if version < 5:
        return error, -1, -1
    producer_id, epoch = struct.unpack_from(">qh", answer, 6)
    return error, producer_id, epoch


def frame(api_key: int, version: int, correlation_id: int, body: bytes,
          client_id: str = "tern-tests") -> bytes:
    payload = struct.pack(">hhi", api_key, version, correlation_id) + string(client_id) + body
    return struct.pack(">i", len(payload)) + payload


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        values = struct.unpack_from(">" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(">" + fmt)
        return values if len(values) > 1 else values[0]

    def string(self) -> str | None:
        n = self.take("h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def bytes(self) -> bytes | None:
        n = self.take("i")
        if n < 0:
            return None
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def array(self, item):
        n = self.take("i")
        return [] if n < 0 else [item() for _ in range(n)]


@dataclass
class FetchedPartition:
    partition: int
    error: int
    high_watermark: int
    records: list[tuple[int, bytes | None, bytes | None]] = field(default_factory=list)


def parse_produce(body: bytes) -> dict[tuple[str, int], tuple[int, int]]:
    """Produce v3 response: {(topic, partition): (error, base_offset)}."""
    r = Reader(body)
    out = {}
    for _ in range(r.take("i")):
        topic = r.string()
        for _ in range(r.take("i")):
            partition, error, base_offset, _append_time = r.take("ihqq")
            out[(topic, partition)] = (error, base_offset)
    return out


def decode_records(data: bytes | None) -> list[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of every record in whole batches (a partial last batch is ignored,
    as clients do)."""
    out = []
    if not data:
        return out
    records = MemoryRecords(data)
    while records.has_next():
        batch = records.next_batch()
        if batch is None:
            break
        for rec in batch:
            out.append((rec.offset, rec.key, rec.value))
    return out


def parse_fetch(body: bytes) -> dict[tuple[str, int], FetchedPartition]:
    """Fetch v4 response."""
    r = Reader(body)
    r.take("i")  # throttle
    out = {}
    for _ in range(r.take("i")):
        topic = r.string()
        for _ in range(r.take("i")):
            partition, error, hw, _lso = r.take("ihqq")
            r.array(lambda: r.take("qq"))
            data = r.bytes()
            out[(topic, partition)] = FetchedPartition(partition, error, hw, decode_records(data))
    return out


def parse_list_offsets(body: bytes) -> dict[tuple[str, int], tuple[int, int, int]]:
    """ListOffsets v1 response: {(topic, partition): (error, timestamp, offset)}."""
    r = Reader(body)
    out = {}
    for _ in range(r.take("i")):
        topic = r.string()
        for _ in range(r.take("i")):
            partition, error, timestamp, offset = r.take("ihqq")
            out[(topic, partition)] = (error, timestamp, offset)
    return out


def parse_metadata(body: bytes) -> dict[tuple[str, int], int]:
    """Metadata v1 response: {(topic, partition): partition error}; a topic-level error is
    reported as partition -1."""
    r = Reader(body)
    r.array(lambda: (r.take("i"), r.string(), r.take("i"), r.string()))
    r.take("i")  # controller
    out = {}
    for _ in range(r.take("i")):
        topic_error = r.take("h")
        name = r.string()
        r.take("b")
        if topic_error:
            out[(name, -1)] = topic_error
        for _ in range(r.take("i")):
            error, partition, _leader = r.take("hii")
            r.array(lambda: r.take("i"))
            r.array(lambda: r.take("i"))
            out[(name, partition)] = error
    return out


class Connection:
    """One TCP connection speaking Kafka's framing; requests are answered in order."""

    def __init__(self, bootstrap: str, timeout: float = 30.0):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.next_id = 1

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, api_key: int, version: int, body: bytes) -> int:
        cid = self.next_id
        self.next_id += 1
        self.send_raw(frame(api_key, version, cid, body))
        return cid

    def receive(self, correlation_id: int) -> bytes:
        """The body of the next response, which must carry `correlation_id`."""
        size = struct.unpack(">i", self._exactly(4))[0]
        payload = self._exactly(size)
        got = struct.unpack_from(">i", payload)[0]
        assert got == correlation_id, f"response to {got}, expected {correlation_id}"
        return payload[4:]

    def request(self, api_key: int, version: int, body: bytes) -> bytes:
        return self.receive(self.send(api_key, version, body))

    def closed_by_peer(self) -> bool:
        """True when the broker closed the connection (EOF or reset) before sending anything
        more; fails if it sends bytes instead."""
        try:
            data = self.sock.recv(1)
        except (ConnectionResetError, BrokenPipeError):
            return True
        assert data == b"", f"expected the broker to close the connection, it sent {data!r}"
        return True

    def _exactly(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)
