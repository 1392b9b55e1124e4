"""Generic helpers for the tern-replicator tests: clusters started side by side, topics, reading
partitions back whole (read_committed, assign mode), the replicator's committed progress, and
waiting with a deadline.

A record is read back as a `Rec`; `assert_replicated` checks that a target partition holds
exactly the source partition's records, in order, each with the provenance header appended.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource, NewPartitions,
                                   NewTopic)

from harness.kafka import KafkaPeer
from harness.replicator import TernReplicator

ORIGIN_HEADER = "tern.origin"


# --- waiting ----------------------------------------------------------------------------------

def wait_until(ready: Callable[[], object], timeout: float, what: str,
               interval: float = 0.5, alive: Iterable[TernReplicator] = ()) -> object:
    """Polls `ready` until it returns something truthy (which is returned); fails naming `what`
    after `timeout` seconds, or at once if one of the replicators in `alive` has exited."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        for r in alive:
            assert r.running(), (f"tern-replicator exited with {r.process.proc.returncode} "
                                 f"while waiting for {what}\n{r.process.log_tail()}")
        try:
            value = ready()
            if value:
                return value
            last_error = None
        except Exception as e:  # a cluster briefly unreachable, a topic not there yet
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


# --- clusters ---------------------------------------------------------------------------------

def start_kafka_nodes(workdirs: list[Path]) -> list[KafkaPeer]:
    """Starts one Apache Kafka node per directory, all at once (each takes seconds to boot);
    stops those that started if any failed."""
    peers = [KafkaPeer(d) for d in workdirs]
    errors: list[BaseException] = []

    def run(peer: KafkaPeer) -> None:
        try:
            peer.start()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(p,)) for p in peers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for p in peers:
            p.stop()
        raise errors[0]
    return peers


@dataclass
class Pair:
    """Two clusters and the aliases the replicator knows them by."""
    source: KafkaPeer
    target: KafkaPeer
    source_alias: str = "src"
    target_alias: str = "dst"

    def replicator(self, workdir: Path, reverse: bool = False, **extra) -> TernReplicator:
        """A (not yet started) replicator source -> target, or target -> source if `reverse`;
        `extra` overrides config fields (topics, naming, delivery, transactional_id...)."""
        a = (self.source_alias, self.source.bootstrap)
        b = (self.target_alias, self.target.bootstrap)
        return TernReplicator(workdir, *((b, a) if reverse else (a, b)), extra=extra)


# --- clients and topics -----------------------------------------------------------------------

def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def producer(bootstrap: str, **conf) -> Producer:
    """acks=all, idempotent unless told otherwise; settings as keyword arguments with '_' for
    '.' (compression_type="zstd")."""
    settings = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                "linger.ms": 5}
    settings.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(settings)


def consumer(bootstrap: str, **conf) -> Consumer:
    """An assign-mode consumer reading committed data; it never joins or commits to a group."""
    settings = {"bootstrap.servers": bootstrap, "group.id": "tern-tests-reader",
                "enable.auto.commit": False, "enable.partition.eof": True,
                "auto.offset.reset": "earliest", "isolation.level": "read_committed"}
    settings.update({k.replace("_", "."): v for k, v in conf.items()})
    return Consumer(settings)


def create_topic(bootstrap: str, name: str, partitions: int = 1,
                 config: dict[str, str] | None = None) -> None:
    a = admin(bootstrap)  # kept alive until the result arrives
    futures = a.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                              operation_timeout=30)
    futures[name].result(timeout=60)


def delete_topic(bootstrap: str, name: str) -> None:
    a = admin(bootstrap)
    a.delete_topics([name], operation_timeout=30)[name].result(timeout=60)


def add_partitions(bootstrap: str, name: str, total: int) -> None:
    a = admin(bootstrap)
    a.create_partitions([NewPartitions(name, total)])[name].result(timeout=60)


def topic_names(bootstrap: str) -> set[str]:
    return set(admin(bootstrap).list_topics(timeout=30).topics)


def partition_count(bootstrap: str, topic: str) -> int:
    """The topic's partition count, 0 if it does not exist."""
    md = admin(bootstrap).list_topics(topic, timeout=30).topics.get(topic)
    if md is None or md.error is not None:
        return 0
    return len(md.partitions)


def topic_configs(bootstrap: str, topic: str, explicit_only: bool = True) -> dict[str, str]:
    """The topic's configs; with `explicit_only`, those set on the topic itself."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    a = admin(bootstrap)
    entries = a.describe_configs([resource])[resource].result(timeout=30)
    return {name: e.value for name, e in entries.items()
            if not explicit_only
            or getattr(e.source, "value", e.source) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def watermarks(bootstrap: str, topic: str, partitions: int | None = None
               ) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)}; high is the last stable offset for read_committed."""
    n = partitions if partitions is not None else partition_count(bootstrap, topic)
    c = consumer(bootstrap)
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)
                for p in range(n)}
    finally:
        c.close()


def end_offsets(bootstrap: str, topic: str, partitions: int | None = None) -> dict[int, int]:
    return {p: high for p, (_, high) in watermarks(bootstrap, topic, partitions).items()}


# --- records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rec:
    """One record as read back."""
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int


def produce(p: Producer, topic: str, records: Iterable[dict]) -> int:
    """Produces records given as keyword dicts for Producer.produce (partition, key, value,
    headers, timestamp); waits for all and fails on any delivery error. Returns the count."""
    errors: list = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)

    n = 0
    for r in records:
        while True:
            try:
                p.produce(topic, on_delivery=on_delivery, **r)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    assert left == 0, f"{left} records to {topic} still undelivered after 120 s"
    assert not errors, f"{len(errors)} delivery errors to {topic}, first {errors[:3]}"
    return n


def consume_all(bootstrap: str, topic: str, partitions: int | list[int] | None = None,
                timeout: float = 120, **conf) -> dict[int, list[Rec]]:
    """Every committed record of the partitions (all by default) from their start up to the end
    each had when reading began, with one assign-mode read_committed consumer."""
    if partitions is None:
        partitions = partition_count(bootstrap, topic)
    wanted = list(range(partitions)) if isinstance(partitions, int) else list(partitions)
    ends = end_offsets(bootstrap, topic, max(wanted, default=-1) + 1)
    out: dict[int, list[Rec]] = {p: [] for p in wanted}
    pending = {p for p in wanted if ends[p] > 0}
    if not pending:
        return out
    c = consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, p, -2) for p in sorted(pending)])  # -2: the beginning
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, (
                f"{topic}: partitions {sorted(pending)} not read up to "
                f"{[ends[p] for p in sorted(pending)]} within {timeout:.0f} s "
                f"(read {[len(out[p]) for p in sorted(pending)]})")
            for m in c.consume(num_messages=5000, timeout=0.5):
                err = m.error()
                p = m.partition()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, f"{topic}[{p}]: {err}"
                    if m.offset() >= ends.get(p, 0):
                        pending.discard(p)
                    continue
                out[p].append(Rec(p, m.offset(), m.key(), m.value(),
                                  tuple(m.headers() or ()), m.timestamp()[1]))
                if m.offset() + 1 >= ends[p]:
                    pending.discard(p)
    finally:
        c.close()
    return out


def count_records(bootstrap: str, topic: str) -> int:
    return sum(len(v) for v in consume_all(bootstrap, topic).values())


def describe(r: Rec) -> str:
    v = r.value if r.value is None or len(r.value) <= 40 else r.value[:40] + b"..."
    return (f"offset {r.offset} key={r.key!r} value={v!r} headers={list(r.headers)} "
            f"ts={r.timestamp}")


def assert_replicated(source: dict[int, list[Rec]], target: dict[int, list[Rec]], origin: str,
                      what: str = "", provenance: bool = True) -> None:
    """Each target partition holds exactly its source partition's records, in the same order:
    same key (null and empty apart), value (null and empty apart), timestamp and headers, with
    the provenance header (`origin`) appended last. Target offsets only have to increase
    (transaction markers take offsets of their own)."""
    extra = {p: len(v) for p, v in target.items() if p not in source and v}
    assert not extra, f"{what}: target partitions without a source partition hold records: {extra}"
    tail = ((ORIGIN_HEADER, origin.encode()),) if provenance else ()
    for p, src in source.items():
        tgt = target.get(p, [])
        for i, (s, t) in enumerate(zip(src, tgt)):
            expected = (s.key, s.value, s.headers + tail, s.timestamp)
            got = (t.key, t.value, t.headers, t.timestamp)
            if expected != got:
                raise AssertionError(
                    f"{what} partition {p}, record #{i}: source {describe(s)}\n"
                    f"target {describe(t)}")
            if i and t.offset <= tgt[i - 1].offset:
                raise AssertionError(f"{what} partition {p}: target offsets not increasing at #{i}")
        assert len(tgt) == len(src), (
            f"{what} partition {p}: source has {len(src)} records, target {len(tgt)}"
            + (f"; first extra on target: {describe(tgt[len(src)])}" if len(tgt) > len(src)
               else f"; first missing: {describe(src[len(tgt)])}"))


# --- the replicator's metrics -----------------------------------------------------------------

def metric(port: int, name: str, labels: str = "") -> float | None:
    """One sample of the replicator's Prometheus exposition on 127.0.0.1:`port`, e.g.
    metric(port, "x_total") or metric(port, "x", 'cluster="source"'); None when absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    series = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?")
    match = re.search(r"^" + series + r" (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


# --- the replicator's progress ----------------------------------------------------------------

def committed_progress(target_bootstrap: str, group: str, topic: str, partitions: int,
                       stable: bool = True) -> dict[int, int]:
    """The source positions the replicator committed on the target for `topic` (its name on
    the target); -1 for partitions without a commit. `stable` waits while a transaction that
    commits offsets of the group is open (as read_committed readers do); without it the last
    committed offsets come back at once."""
    c = Consumer({"bootstrap.servers": target_bootstrap, "group.id": group,
                  "enable.auto.commit": False,
                  "isolation.level": "read_committed" if stable else "read_uncommitted"})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        return {tp.partition: tp.offset if tp.offset >= 0 else -1 for tp in tps}
    finally:
        c.close()


def wait_caught_up(replicator: TernReplicator, topics: dict[str, str], timeout: float = 120,
                   source_bootstrap: str | None = None, target_bootstrap: str | None = None
                   ) -> None:
    """Waits until the progress the replicator committed on the target reaches the current end
    of every partition of the given source topics ({source name: target name}). Meant for
    sources written without transactions, where the end is the offset after the last record."""
    src = source_bootstrap or replicator.source_bootstrap
    tgt = target_bootstrap or replicator.target_bootstrap
    ends = {t: end_offsets(src, t) for t in topics}

    seen: dict[str, dict[int, int]] = {}

    def caught_up() -> bool:
        for s, t in topics.items():
            seen[t] = committed_progress(tgt, replicator.progress_group, t, len(ends[s]))
        return all(seen[t][p] >= end for s, t in topics.items() for p, end in ends[s].items())

    try:
        wait_until(caught_up, timeout, "the replicator catching up", alive=[replicator])
    except AssertionError as e:
        raise AssertionError(f"{e}: source ends {ends}, progress committed in group "
                             f"{replicator.progress_group}: {seen}") from None


# --- a steady load ----------------------------------------------------------------------------

class NumberedLoad(threading.Thread):
    """Writes numbered records (value = the number as text; key "k<n>", header n=<n>)
    round-robin over the topics and their partitions at about `rate` records per second with an
    idempotent producer, until `total` were written or halt(). pause() waits until everything
    sent so far is acknowledged and holds further writes until resume()."""

    def __init__(self, bootstrap: str, topics: list[str], partitions: int, rate: float,
                 total: int | None = None):
        super().__init__(daemon=True)
        self.bootstrap, self.topics, self.partitions = bootstrap, topics, partitions
        self.rate, self.total = rate, total
        self.sent = 0
        self.errors: list = []
        self._halt = threading.Event()
        self._pause = threading.Event()
        self._paused = threading.Event()

    def run(self) -> None:
        try:
            p = producer(self.bootstrap, linger_ms=5)

            def on_delivery(err, msg):
                if err is not None:
                    self.errors.append(err)

            started, n = time.monotonic(), 0
            while not self._halt.is_set() and (self.total is None or n < self.total):
                if self._pause.is_set():
                    assert p.flush(120) == 0, "records still unacknowledged after 120 s"
                    self._paused.set()
                    while self._pause.is_set() and not self._halt.is_set():
                        time.sleep(0.05)
                    self._paused.clear()
                    started = time.monotonic() - n / self.rate  # no burst to make up for it
                if n % 100 == 0:
                    ahead = started + n / self.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
                    p.poll(0)
                topic = self.topics[n % len(self.topics)]
                partition = (n // len(self.topics)) % self.partitions
                try:
                    p.produce(topic, key=b"k%d" % n, value=b"%d" % n, partition=partition,
                              headers=[("n", b"%d" % n)], on_delivery=on_delivery)
                except BufferError:
                    p.poll(0.05)
                    continue
                n += 1
                self.sent = n
            assert p.flush(120) == 0, "records still unacknowledged after 120 s"
        except BaseException as e:  # reported by finish()
            self.errors.append(e)

    def pause(self) -> None:
        self._pause.set()
        wait_until(lambda: self._paused.is_set() or not self.is_alive(), 150,
                   "the load acknowledged and paused", interval=0.05)
        assert not self.errors, f"producing failed: {self.errors[:3]}"

    def resume(self) -> None:
        self._pause.clear()

    def halt(self) -> None:
        self._halt.set()

    def finish(self) -> None:
        """Waits for the last record (halting first if there is no total) and checks that
        every record was acknowledged."""
        if self.total is None:
            self.halt()
        self.join(180)
        assert not self.is_alive(), "the load generator did not finish"
        assert not self.errors, f"producing failed: {self.errors[:3]}"
