"""Idempotent producers against tern-broker:

- InitProducerId at every version: fresh, unique ids with epoch 0 (also across restarts, and
  for a producer naming its old id, as Kafka 4 does); a transactional id keeps its producer
  id and gets its epoch bumped at each InitProducerId;
- by hand (kafka_wire.py): a retried batch is acknowledged with its first offsets and stored
  once; sequence gaps, stale epochs and a new epoch not starting at 0 are refused;
- a retry sent to a broker restarted after kill -9 (or a clean stop) is still recognised, with
  the state coming from the log or from snapshots;
- real clients: confluent-kafka with enable.idempotence=true (also through a proxy that cuts
  its connections at random moments) and Java's console producer with its defaults; every
  record read back exactly once, in order.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

import kafka_wire as wire
from harness import paths
from harness.ports import free_port
from harness.tern import TernBroker
from tern_fixtures import (batches_in, consume_all, create_topic, produce_all, producer,
                          segment_files, tern, tern_module, Rec)

__all__ = ["tern", "tern_module"]

INIT_PRODUCER_ID_VERSIONS = range(0, 6)


def send_batch(conn: wire.Connection, topic: str, partition: int, pid: int, epoch: int,
               sequence: int, count: int, tag: str = "v") -> tuple[int, int]:
    """Produces `count` records whose values are f"{tag}{sequence + i}"; returns (error, base
    offset)."""
    values = [(None, f"{tag}{sequence + i}".encode()) for i in range(count)]
    batch = wire.record_batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=sequence)
    answer = wire.parse_produce(conn.request(wire.PRODUCE, 3,
                                             wire.produce_body(topic, partition, batch)))
    return answer[(topic, partition)]


def values_in(bootstrap: str, topic: str, partition: int = 0) -> list[str]:
    return [r.value.decode() for r in consume_all(bootstrap, topic, [partition])[partition]]


def new_producer_id(bootstrap: str) -> int:
    with wire.Connection(bootstrap) as conn:
        error, pid, epoch = wire.init_producer_id(conn)
    assert (error, epoch) == (wire.NONE, 0)
    return pid


# --- InitProducerId ---------------------------------------------------------------------------

def test_init_producer_id_gives_unique_ids_at_every_version(tern_module):
    ids = []
    with wire.Connection(tern_module.bootstrap) as conn:
        for version in INIT_PRODUCER_ID_VERSIONS:
            for _ in range(3):
                error, pid, epoch = wire.init_producer_id(conn, version)
                assert (error, epoch) == (wire.NONE, 0), f"v{version}"
                ids.append(pid)
    assert len(set(ids)) == len(ids) and all(pid >= 0 for pid in ids), ids


def test_producer_naming_its_id_gets_a_new_one(tern_module):
    """KIP-360 (v3+): Kafka 4 answers an idempotent producer's request with its current id and
    epoch with a new id at epoch 0, never an epoch bump or a fencing error."""
    with wire.Connection(tern_module.bootstrap) as conn:
        _, old, _ = wire.init_producer_id(conn, 4)
        for epoch in (0, 5, 32767):
            error, pid, new_epoch = wire.init_producer_id(conn, 4, producer_id=old,
                                                          producer_epoch=epoch)
            assert (error, new_epoch) == (wire.NONE, 0) and pid != old


def test_producer_id_without_epoch_is_an_invalid_request(tern_module):
    with wire.Connection(tern_module.bootstrap) as conn:
        for pid, epoch in ((5, -1), (-1, 0)):
            assert wire.init_producer_id(conn, 3, producer_id=pid, producer_epoch=epoch) == \
                (wire.INVALID_REQUEST, -1, -1)


@pytest.mark.parametrize("version", INIT_PRODUCER_ID_VERSIONS)
def test_a_transactional_id_keeps_its_producer_id_and_bumps_its_epoch(tern_module, version):
    txn_id = f"txn-v{version}"
    with wire.Connection(tern_module.bootstrap) as conn:
        error, pid, epoch = wire.init_producer_id(conn, version, transactional_id=txn_id)
        assert (error, epoch) == (wire.NONE, 0) and pid >= 0
        for bumped in (1, 2):
            assert wire.init_producer_id(conn, version, transactional_id=txn_id) == \
                (wire.NONE, pid, bumped)
        assert wire.init_producer_id(conn, version, transactional_id="") == \
            (wire.INVALID_REQUEST, -1, -1)


def test_producer_ids_are_never_reissued_after_a_crash(tmp_path):
    broker = TernBroker(tmp_path / "tern").start()
    try:
        seen = set()
        for round_ in range(3):
            with wire.Connection(broker.bootstrap) as conn:
                got = [wire.init_producer_id(conn)[1] for _ in range(5)]
            assert not seen & set(got), f"round {round_} reissued {seen & set(got)}"
            seen |= set(got)
            broker.kill() if round_ % 2 == 0 else broker.stop()
            broker.restart()
        assert (broker.data_dir / "producer-ids").read_text().strip().isdigit()
    finally:
        broker.stop()


# --- the rules, by hand -----------------------------------------------------------------------

def test_retried_batch_gets_its_first_offset_and_is_stored_once(tern_module):
    topic = "idem-retry"
    create_topic(tern_module.bootstrap, topic)
    pid = new_producer_id(tern_module.bootstrap)
    with wire.Connection(tern_module.bootstrap) as conn:
        assert send_batch(conn, topic, 0, pid, 0, 0, 3) == (wire.NONE, 0)
        assert send_batch(conn, topic, 0, pid, 0, 3, 2) == (wire.NONE, 3)
        # The same two batches again, as a producer whose responses were lost would send them.
        assert send_batch(conn, topic, 0, pid, 0, 3, 2) == (wire.NONE, 3)
        assert send_batch(conn, topic, 0, pid, 0, 0, 3) == (wire.NONE, 0)
        assert send_batch(conn, topic, 0, pid, 0, 5, 1) == (wire.NONE, 5)
    assert values_in(tern_module.bootstrap, topic) == [f"v{i}" for i in range(6)]
    batches = batches_in(segment_files(tern_module.data_dir, topic, 0)[0])
    assert [(b.producer_id, b.base_sequence) for b in batches] == [(pid, 0), (pid, 3), (pid, 5)]


def test_sequence_and_epoch_rules(tern_module):
    topic = "idem-rules"
    create_topic(tern_module.bootstrap, topic)
    pid = new_producer_id(tern_module.bootstrap)
    with wire.Connection(tern_module.bootstrap) as conn:
        assert send_batch(conn, topic, 0, pid, 0, 0, 4) == (wire.NONE, 0)
        # A gap, and a batch overlapping the last without being one of the remembered five.
        assert send_batch(conn, topic, 0, pid, 0, 5, 1)[0] == wire.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert send_batch(conn, topic, 0, pid, 0, 2, 3)[0] == wire.OUT_OF_ORDER_SEQUENCE_NUMBER
        # A new epoch (Java bumps it itself) must start at sequence 0.
        assert send_batch(conn, topic, 0, pid, 1, 4, 1)[0] == wire.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert send_batch(conn, topic, 0, pid, 1, 0, 1) == (wire.NONE, 4)
        # The old epoch is fenced, retries of its batches included.
        assert send_batch(conn, topic, 0, pid, 0, 4, 1)[0] == wire.INVALID_PRODUCER_EPOCH
        assert send_batch(conn, topic, 0, pid, 0, 0, 4)[0] == wire.INVALID_PRODUCER_EPOCH
        # A producer id with no sequence number is not a valid batch.
        assert send_batch(conn, topic, 0, pid, 1, -1, 1)[0] == wire.INVALID_RECORD
        # Another producer is independent, and may start anywhere on a partition new to it.
        other = new_producer_id(tern_module.bootstrap)
        assert send_batch(conn, topic, 0, other, 0, 70, 2, tag="o") == (wire.NONE, 5)
        assert send_batch(conn, topic, 0, pid, 1, 1, 1) == (wire.NONE, 7)
    assert values_in(tern_module.bootstrap, topic) == ["v0", "v1", "v2", "v3", "v0", "o70", "o71",
                                                       "v1"]


# --- restarts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["kill", "stop"])
@pytest.mark.parametrize("segment_bytes", [None, 600])
def test_retry_after_a_restart_is_recognised(tmp_path, how, segment_bytes):
    """Acknowledged batches, then the broker goes down (kill -9 or a clean stop) and the
    producer resends its last five batches to the restarted broker: each is acknowledged with
    its first offset and stored once. Small segments make the state come from a roll snapshot
    and a replay of the tail."""
    broker = TernBroker(tmp_path / "tern").start()
    topic = "idem-restart"
    try:
        create_topic(broker.bootstrap, topic,
                     config={"segment.bytes": str(segment_bytes)} if segment_bytes else None)
        pid = new_producer_id(broker.bootstrap)
        with wire.Connection(broker.bootstrap) as conn:
            for seq in range(0, 60, 3):
                assert send_batch(conn, topic, 0, pid, 0, seq, 3) == (wire.NONE, seq)
        if segment_bytes:
            assert len(segment_files(broker.data_dir, topic, 0)) >= 3
        broker.kill() if how == "kill" else broker.stop()
        broker.restart()
        with wire.Connection(broker.bootstrap) as conn:
            for seq in range(45, 60, 3):
                assert send_batch(conn, topic, 0, pid, 0, seq, 3) == (wire.NONE, seq)
            assert send_batch(conn, topic, 0, pid, 0, 42, 3)[0] == \
                wire.OUT_OF_ORDER_SEQUENCE_NUMBER
            assert send_batch(conn, topic, 0, pid, 0, 60, 3) == (wire.NONE, 60)
        assert values_in(broker.bootstrap, topic) == [f"v{i}" for i in range(63)]
    finally:
        broker.stop()


def test_unanswered_batch_resent_after_kill_is_stored_once(tmp_path):
    """The broker is killed right after a batch is sent, before or after it was written; the
    producer resends the same batch to the restarted broker. Whichever happened, the batch is in
    the log exactly once, at the offset the resend is acknowledged with."""
    broker = TernBroker(tmp_path / "tern").start()
    topic = "idem-kill"
    rng = random.Random(7)
    try:
        create_topic(broker.bootstrap, topic)
        pid = new_producer_id(broker.bootstrap)
        seq = 0
        for round_ in range(8):
            with wire.Connection(broker.bootstrap) as conn:
                for _ in range(rng.randint(0, 3)):
                    assert send_batch(conn, topic, 0, pid, 0, seq, 2) == (wire.NONE, seq)
                    seq += 2
                values = [(None, f"v{seq + i}".encode()) for i in range(2)]
                batch = wire.record_batch(values, producer_id=pid, producer_epoch=0,
                                          base_sequence=seq)
                conn.send(wire.PRODUCE, 3, wire.produce_body(topic, 0, batch))
                time.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02]))
                broker.kill()
            broker.restart()
            with wire.Connection(broker.bootstrap) as conn:
                assert send_batch(conn, topic, 0, pid, 0, seq, 2) == (wire.NONE, seq), \
                    f"round {round_}"
            seq += 2
        assert values_in(broker.bootstrap, topic) == [f"v{i}" for i in range(seq)]
    finally:
        broker.stop()


# --- real clients -----------------------------------------------------------------------------

def check_exactly_once_in_order(bootstrap: str, topic: str, partitions: int, total: int) -> None:
    """Values are the producer's sequence numbers, sent to partition value % partitions: every
    partition holds its share exactly once, in order, at gap-free offsets."""
    got = consume_all(bootstrap, topic, partitions, timeout=120, with_timestamps=False)
    for p in range(partitions):
        values = [int(r.value) for r in got[p]]
        expected = list(range(p, total, partitions))
        if values != expected:
            dups = len(values) - len(set(values))
            missing = sorted(set(expected) - set(values))[:10]
            raise AssertionError(f"partition {p}: {len(values)} records, {dups} duplicated, "
                                 f"first missing {missing}")
        assert [r.offset for r in got[p]] == list(range(len(values)))


def produce_numbers(p, topic: str, partitions: int, total: int) -> None:
    produce_all(p, topic, [Rec(n % partitions, 0, None, str(n).encode()) for n in range(total)])


def test_confluent_kafka_idempotent_producer_writes_each_record_once(tern_module):
    topic = "idem-confluent"
    create_topic(tern_module.bootstrap, topic, partitions=3)
    p = producer(tern_module.bootstrap, enable_idempotence=True, linger_ms=2,
                 batch_num_messages=200)
    produce_numbers(p, topic, 3, 20_000)
    check_exactly_once_in_order(tern_module.bootstrap, topic, 3, 20_000)
    pids = {b.producer_id for f in segment_files(tern_module.data_dir, topic, 0)
            for b in batches_in(f)}
    assert len(pids) == 1 and min(pids) >= 0, f"batches written with producer ids {pids}"


class CuttingProxy:
    """Forwards TCP connections from its own port to the broker's and, while `cutting` is set,
    every `interval` (a random time in that range) cuts one open connection at both ends,
    whatever is in flight: a request half sent, a response not yet delivered. Every other cut
    waits for the broker's next Produce response on any connection and drops it, cutting that
    connection, so that some writes are certainly acknowledged to nobody. Requests pass on as
    they arrive; responses pass on a whole frame at a time, so that one can be held back."""

    def __init__(self, interval: tuple[float, float], seed: int = 1):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.target_port = 0
        self.interval = interval
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.open: list[tuple[socket.socket, socket.socket]] = []
        self.connections = 0
        self.cuts = 0
        self.drop_next_response = False
        self.drop_turn = False  # alternates between a plain cut and a dropped response
        self.produce_ids: dict[int, set[int]] = {}  # per connection: Produce requests unanswered
        self.dropped_produce_responses = 0
        self.stopping = threading.Event()
        self.cutting = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, target_port: int) -> "CuttingProxy":
        self.target_port = target_port
        for run in (self._accept, self._cut):
            t = threading.Thread(target=run, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=5)
        with self.lock:
            for pair in self.open:
                self._close(pair)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            pair = (client, upstream)
            with self.lock:
                self.open.append(pair)
                self.connections += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair) -> None:
        from_broker = src is pair[1]
        produce_ids = self.produce_ids.setdefault(id(pair), set())
        buffered = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buffered += data
                # Whole frames: a 4-byte size, then (request) api key, version and correlation
                # id, or (response) the correlation id.
                ready = bytearray()
                while len(buffered) >= 4 and \
                        len(buffered) >= 4 + int.from_bytes(buffered[:4], "big"):
                    end = 4 + int.from_bytes(buffered[:4], "big")
                    frame, buffered = buffered[:end], buffered[end:]
                    if not from_broker:
                        if int.from_bytes(frame[4:6], "big") == 0:  # Produce
                            with self.lock:
                                produce_ids.add(int.from_bytes(frame[8:12], "big"))
                        continue
                    correlation = int.from_bytes(frame[4:8], "big")
                    with self.lock:
                        drop = (self.drop_next_response and self.cutting.is_set()
                                and correlation in produce_ids)
                        produce_ids.discard(correlation)
                        if drop:
                            self.drop_next_response = False
                            self.cuts += 1
                            self.dropped_produce_responses += 1
                    if drop:
                        dst.sendall(ready)
                        raise ConnectionAbortedError("a Produce response dropped")
                    ready += frame
                if not from_broker:
                    dst.sendall(data)
                elif ready:
                    dst.sendall(ready)
        except OSError:
            pass
        with self.lock:
            if pair in self.open:
                self.open.remove(pair)
        self._close(pair)

    def _cut(self) -> None:
        while not self.stopping.wait(self.rng.uniform(*self.interval)):
            with self.lock:
                if not self.cutting.is_set() or not self.open:
                    continue
                self.drop_turn = not self.drop_turn
                if self.drop_turn:
                    self.drop_next_response = True
                    continue
                pair = self.open.pop(self.rng.randrange(len(self.open)))
                self.cuts += 1
            self._close(pair)

    @staticmethod
    def _close(pair) -> None:
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def duplicate_batches(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("tern_broker_duplicate_batches_total "):
                return float(line.split()[1])
    raise AssertionError("tern_broker_duplicate_batches_total is not exposed")


def test_idempotent_producer_through_cut_connections_writes_no_duplicates_and_no_gaps(tmp_path):
    """confluent-kafka with idempotence on, through a proxy that cuts a connection every few
    hundred milliseconds while records flow: requests are lost half sent, responses lost after
    the write, and the client resends. Every record ends up in the log once, in order; the
    broker's counter shows that resends of written batches were recognised."""
    proxy = CuttingProxy(interval=(0.2, 0.8), seed=11)
    metrics_port = free_port()
    broker = TernBroker(tmp_path / "tern",
                        config={"advertised_listener": f"127.0.0.1:{proxy.port}",
                                "metrics_listen": f"127.0.0.1:{metrics_port}"}).start()
    proxy.start(broker.port)
    bootstrap = f"127.0.0.1:{proxy.port}"  # what the broker advertises, too
    topic, total, partitions = "idem-cut", 20_000, 3
    errors = []
    try:
        create_topic(bootstrap, topic, partitions=partitions)
        p = producer(bootstrap, enable_idempotence=True, linger_ms=1, batch_num_messages=20,
                     message_timeout_ms=180_000, reconnect_backoff_ms=10,
                     reconnect_backoff_max_ms=200)
        proxy.cutting.set()
        for n in range(total):
            while True:
                try:
                    p.produce(topic, value=str(n).encode(), partition=n % partitions,
                              on_delivery=lambda err, _msg: err and errors.append(err))
                    break
                except BufferError:
                    p.poll(0.05)
            if n % 500 == 499:  # about 5000 records a second, so that cuts land among them
                p.poll(0)
                time.sleep(0.1)
        assert p.flush(180) == 0
        proxy.cutting.clear()
        assert not errors, f"delivery errors: {errors[:5]}"
        assert proxy.cuts >= 5, f"only {proxy.cuts} cuts"
        assert proxy.dropped_produce_responses >= 1, "no Produce response was dropped"
        check_exactly_once_in_order(bootstrap, topic, partitions, total)
        assert duplicate_batches(metrics_port) > 0, \
            f"no resend of a written batch in {proxy.cuts} cuts"
    finally:
        proxy.stop()
        broker.stop()


def test_java_console_producer_with_default_settings(tern_module):
    """Kafka 4's console producer enables idempotence by default."""
    topic = "idem-java"
    create_topic(tern_module.bootstrap, topic)
    lines = [f"line {i}" for i in range(500)]
    result = subprocess.run(
        [str(paths.kafka_tool("kafka-console-producer")), "--bootstrap-server",
         tern_module.bootstrap, "--topic", topic],
        input="".join(line + "\n" for line in lines), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert values_in(tern_module.bootstrap, topic) == lines
    batches = batches_in(segment_files(tern_module.data_dir, topic, 0)[0])
    assert batches and all(b.producer_id >= 0 and b.producer_epoch == 0 for b in batches), batches
