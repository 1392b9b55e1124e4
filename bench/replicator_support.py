"""What bench/replicator_bench.py stands on: the two Apache Kafka clusters, toxiproxy for the WAN
path, the replicators under test behind one small interface (tern-replicator, MirrorMaker 2, a
`kcat -C | kcat -P` pipe), process statistics, and the clients that fill and read topics.

Everything runs on loopback, on free ports, in the run's directory. Only one replicator runs at
a time; each has topics of its own on both clusters.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import broker_support as bs
from replicator_clients import PARTITIONS, value

from harness.kafka import KafkaPeer  # noqa: E402  (broker_support put tests/ on sys.path)
from harness.mirrormaker import MirrorMakerPeer  # noqa: E402
from harness.ports import free_port, is_listening  # noqa: E402
from harness.process import ManagedProcess  # noqa: E402
from harness.replicator import TernReplicator  # noqa: E402

ROOT = bs.ROOT
CLIENTS = ROOT / "bench" / "replicator_clients.py"
SOURCE_ALIAS, TARGET_ALIAS = "src", "dst"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- clusters

def start_clusters(workdir: Path, wan_address: str | None) -> tuple[KafkaPeer, KafkaPeer]:
    """The source and the target cluster, started side by side. With `wan_address` the source
    has a second listener "WAN" that advertises that address (the proxy's), so clients that
    bootstrap through the proxy keep talking through it."""
    source = KafkaPeer(workdir / "source",
                       extra_listeners={"WAN": wan_address} if wan_address else None)
    target = KafkaPeer(workdir / "target")
    errors: list[BaseException] = []

    def run(peer: KafkaPeer) -> None:
        try:
            peer.start()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(p,)) for p in (source, target)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except BaseException:  # SIGTERM (SystemExit) while they start: leave nothing behind
        for t in threads:
            t.join()
        source.stop()
        target.stop()
        raise
    if errors:
        source.stop()
        target.stop()
        raise errors[0]
    return source, target


# ---------------------------------------------------------------- toxiproxy

def toxiproxy_bin() -> Path:
    """Installs toxiproxy if needed (bench/setup_toxiproxy.sh) and returns its bin folder."""
    out = subprocess.run([str(ROOT / "bench" / "setup_toxiproxy.sh")], check=True,
                         capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


class Toxiproxy:
    """toxiproxy-server on a free loopback port, driven through its HTTP API."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.bin = toxiproxy_bin()
        self.port = 0
        self.process: ManagedProcess | None = None

    def start(self) -> "Toxiproxy":
        self.port = free_port()
        self.process = ManagedProcess(
            "toxiproxy", [self.bin / "toxiproxy-server", "-host", "127.0.0.1",
                          "-port", str(self.port)],
            self.workdir / "toxiproxy.log").start()
        self.process.wait_until(lambda: is_listening("127.0.0.1", self.port), 20,
                                "toxiproxy listened")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def version(self) -> str:
        return subprocess.run([str(self.bin / "toxiproxy-server"), "-version"],
                              capture_output=True, text=True).stdout.strip()

    def _call(self, method: str, path: str, body: dict | None = None) -> bytes:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    def proxy(self, name: str, listen: str, upstream: str) -> None:
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream,
                                        "enabled": True})

    def toxic(self, proxy: str, name: str, kind: str, stream: str, attributes: dict) -> None:
        self._call("POST", f"/proxies/{proxy}/toxics",
                   {"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
                    "attributes": attributes})

    @staticmethod
    def bytes_to_clients(listen_port: int) -> int:
        """Bytes the proxy's open client connections on `listen_port` have delivered to their
        clients (tcp_info bytes_acked, from `ss`), summed. toxiproxy's own byte counters are
        only updated when a connection closes, so they cannot follow a running transfer."""
        out = subprocess.run(["ss", "-tinH", "state", "established",
                              f"( sport = :{listen_port} )"],
                             capture_output=True, text=True).stdout
        return sum(int(m) for m in re.findall(r"bytes_acked:(\d+)", out))


# ---------------------------------------------------------------- topics and data

def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topics(bootstrap: str, names: list[str]) -> None:
    bs.create_topics(bootstrap, names, PARTITIONS)


def warm_up(bootstrap: str) -> None:
    """Makes a fresh cluster load what a replicator would otherwise wait for at its start: the
    transaction coordinator (__transaction_state) and the group coordinator
    (__consumer_offsets), with one transaction and one group commit on a topic of its own."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    create_topics(bootstrap, ["bench-warmup"])
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "tern-bench-warmup"})
    p.init_transactions(120)
    p.begin_transaction()
    p.produce("bench-warmup", b"warm-up", partition=0)
    p.commit_transaction(120)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tern-bench-warmup",
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("bench-warmup", 0, 1)], asynchronous=False)
    c.close()


def preload(bootstrap: str, topic: str, records: int) -> float:
    """Writes `records` values of the benchmark's shape, round-robin over the partitions, and
    waits until all are acknowledged. Returns the seconds it took."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "1",
                  "enable.idempotence": False, "compression.type": "none",
                  "batch.num.messages": 10000, "queue.buffering.max.kbytes": 512 * 1024})
    failed: list[str] = []

    def report(err, _msg):
        if err is not None and len(failed) < 5:
            failed.append(str(err))

    t0 = time.monotonic()
    ts = time.time_ns()
    for seq in range(records):
        v = value(seq, ts)
        while True:
            try:
                p.produce(topic, v, partition=seq % PARTITIONS, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        if seq % 10000 == 0:
            p.poll(0)
    if p.flush(120) != 0 or failed:
        raise RuntimeError(f"preloading {topic}: {failed or 'records left undelivered'}")
    return time.monotonic() - t0


def _partitions(topic: str):
    from confluent_kafka import TopicPartition
    return [TopicPartition(topic, p) for p in range(PARTITIONS)]


def end_offsets(adm, topic: str) -> int:
    """Sum of the partitions' end offsets (high watermarks): records plus, on a transactional
    topic, one control record per partition and transaction."""
    from confluent_kafka.admin import OffsetSpec
    futures = adm.list_offsets({tp: OffsetSpec.latest() for tp in _partitions(topic)},
                               request_timeout=10)
    return sum(max(f.result().offset, 0) for f in futures.values())


def group_progress(adm, group: str, topic: str) -> int:
    """Sum of the offsets `group` has committed on `topic`'s partitions (missing: 0)."""
    from confluent_kafka import ConsumerGroupTopicPartitions
    futures = adm.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, _partitions(topic))], request_timeout=10)
    result = futures[group].result()
    return sum(max(tp.offset, 0) for tp in result.topic_partitions if tp.error is None)


def read_back(bootstrap: str, topic: str, timeout: float = 120) -> dict:
    """Reads a target topic whole (read_committed, assign mode): records and distinct
    sequence numbers."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tern-bench-readback",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    count, seqs, eof = 0, set(), set()
    deadline = time.monotonic() + timeout
    while len(eof) < PARTITIONS and time.monotonic() < deadline:
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    eof.add(m.partition())
                continue
            eof.discard(m.partition())
            count += 1
            seqs.add(int(m.value()[:10]))
    c.close()
    return {"records": count, "distinct": len(seqs), "complete": len(eof) == PARTITIONS}


# ---------------------------------------------------------------- replicators under test

def group_pids(leader: int) -> list[int]:
    """Processes of the process group that `leader` leads (a shell pipeline's members)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # field 5, pgrp
            out.append(int(d.name))
    return out


class Replicator:
    """One replicator under test, replicating the topics of one (scenario, variant) pair."""
    name = "?"
    counts = "end offsets"  # how progress on the target is counted (see counter())
    # counter() also counts what is not a record (transaction markers): the copying is over
    # once it has reached N and stopped growing, not as soon as it reaches N.
    settles = False

    def __init__(self, workdir: Path, source: str, target: str, topics: list[str]):
        self.workdir = workdir
        self.source, self.target = source, target
        self.topics = topics

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def pids(self) -> list[int]: ...
    def running(self) -> bool: ...
    def log_path(self) -> Path: ...

    def target_topic(self, topic: str) -> str:
        return topic

    def counter(self, adm, topic: str) -> int:
        """Records of `topic` that are on the target, as far as a reader can see them."""
        return end_offsets(adm, self.target_topic(topic))

    def written(self, adm, topic: str) -> int:
        """Whether anything of `topic` has been written on the target yet, visible or not (the
        copying starts there): the sum of its end offsets."""
        return end_offsets(adm, self.target_topic(topic))

    def setup_target(self) -> None:
        """Creates what the replicator does not create itself on the target."""

    def settings(self) -> str:
        return ""


class Tern(Replicator):
    """tern-replicator; its target topics (same names, identity naming) it creates itself.

    Exactly-once: the target's end offsets also count the transaction markers, and a record is
    visible to read_committed readers only once its transaction commits. Progress is counted
    from what the replicator commits in the same transaction as the data: the offsets of its
    progress group (the transactional id) on the target topic's partitions, which are the next
    source offsets. Each source partition of a freshly filled topic starts at offset 0 and holds
    no control records, so their sum is exactly the number of source records whose copies are
    committed and visible."""

    def __init__(self, workdir, source, target, topics, binary: Path, delivery: str,
                 txid: str, settings: dict):
        super().__init__(workdir, source, target, topics)
        self.delivery = delivery
        self.txid = txid
        self.extra = {"delivery": delivery, "transactional_id": txid,
                      "topics": {"include": [re.escape(t) for t in topics], "exclude": []},
                      **settings}
        self.user_settings = settings
        self.metrics_port = free_port()
        self.extra.setdefault("metrics", {"listen": f"127.0.0.1:{self.metrics_port}"})
        self.name = "tern " + ("exactly-once" if delivery == "exactly-once" else "at-least-once")
        if delivery == "exactly-once":
            self.counts = "committed progress of the replicator's group"
        self.rep = TernReplicator(workdir, (SOURCE_ALIAS, source), (TARGET_ALIAS, target),
                                  extra=self.extra, binary=binary)

    def start(self) -> None:
        self.rep.start()

    def stop(self) -> None:
        self.rep.stop()

    def pids(self) -> list[int]:
        return [self.rep.process.pid] if self.rep.running() else []

    def running(self) -> bool:
        return self.rep.running()

    def log_path(self) -> Path:
        return self.rep.log_path

    def counter(self, adm, topic: str) -> int:
        if self.delivery == "exactly-once":
            return group_progress(adm, self.txid, topic)
        return end_offsets(adm, topic)

    def settings(self) -> str:
        shown = {k: v for k, v in self.extra.items() if k not in ("topics", "metrics")}
        return json.dumps(shown, sort_keys=True)

    def latency_buckets(self) -> dict[float, float]:
        """Its replication latency histogram (target acknowledgement minus the record's
        timestamp): cumulative count by upper bound in seconds."""
        out: dict[float, float] = {}
        for name, value in self.metrics(raw=True).items():
            m = re.match(r'tern_replicator_replication_latency_seconds_bucket\{.*le="([^"]+)"',
                         name)
            if m:
                le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
                out[le] = out.get(le, 0.0) + value
        return out

    def metrics(self, raw: bool = False) -> dict[str, float]:
        """Its Prometheus counters (summed over labels unless `raw`), e.g.
        tern_replicator_commits_total; empty if they cannot be read."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                        timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, _, val = line.rpartition(" ")
            if not raw:
                name = name.split("{", 1)[0]
            try:
                out[name] = out.get(name, 0.0) + float(val)
            except ValueError:
                pass
        return out


class MirrorMaker(Replicator):
    """MirrorMaker 2 (dedicated mode, connect-mirror-maker) with the harness's settings; the
    target topics are "<source alias>.<topic>" (its default naming), created by MM2.

    `exactly_once` turns on Connect's exactly-once source support (KIP-618) the way MM2's
    dedicated mode takes it: the internal REST server on (KIP-710), exactly.once.source.support
    on the target cluster, and a read_committed source consumer. Each source task then writes
    a transaction per batch it polls, with its source offsets in the same transaction. Its end
    offsets also count those transactions' markers, so `settles`: the copying is over once
    they have reached N and stopped growing."""
    name = "MirrorMaker 2"

    def __init__(self, workdir, source, target, topics, alias: str, settings: dict,
                 exactly_once: bool = False):
        super().__init__(workdir, source, target, topics)
        self.alias = alias
        self.user_settings = settings
        extra = dict(settings)
        if exactly_once:
            self.name = "MirrorMaker 2 exactly-once"
            self.settles = True
            self.counts = ("end offsets (with the transaction markers: the copying ends at the "
                           "poll where they last grew, once they had reached N)")
            extra = {"dedicated.mode.enable.internal.rest": "true",
                     "listeners": f"http://127.0.0.1:{free_port()}",
                     f"{TARGET_ALIAS}.exactly.once.source.support": "enabled",
                     f"{alias}.consumer.isolation.level": "read_committed", **extra}
        self.exactly_once = exactly_once
        self.peer = MirrorMakerPeer(workdir, (alias, source), (TARGET_ALIAS, target),
                                    topics="|".join(re.escape(t) for t in topics),
                                    extra=extra)

    def start(self) -> None:
        self.peer.start()

    def stop(self) -> None:
        self.peer.stop()

    def pids(self) -> list[int]:
        p = self.peer.process
        return [p.pid] if p is not None and p.running() else []

    def running(self) -> bool:
        return self.peer.process is not None and self.peer.process.running()

    def log_path(self) -> Path:
        return self.workdir / "mirrormaker.log"

    def target_topic(self, topic: str) -> str:
        return f"{self.alias}.{topic}"

    def settings(self) -> str:
        text = json.dumps(self.user_settings, sort_keys=True) if self.user_settings else \
            "harness defaults (tasks.max 1)"
        if self.exactly_once:
            text += (f"; exactly-once: {TARGET_ALIAS}.exactly.once.source.support=enabled, "
                     f"{self.alias}.consumer.isolation.level=read_committed, "
                     "dedicated.mode.enable.internal.rest=true")
        return text


class KcatPipe(Replicator):
    """The naive baseline: per topic, `kcat -C -u | kcat -P` (values only, one per line; the
    target topic, same name, is created beforehand with the same partitions). kcat -P picks
    partitions itself, keys and headers are lost, and nothing is ever checkpointed.

    kcat -P hands a line to its producer only once the next line (or the end of input) has
    arrived, so a pipe that never ends holds its last record back. The throughput topic's pipe
    therefore copies the backlog and ends (`kcat -C -e`: exit at the end of the partitions);
    the latency topic's pipe runs until stopped, and each of its records waits for the next
    one (at 2000 records/s, half a millisecond on average)."""
    name = "kcat pipe"

    def __init__(self, workdir, source, target, topics):
        super().__init__(workdir, source, target, topics)
        self.procs: list[ManagedProcess] = []

    def setup_target(self) -> None:
        create_topics(self.target, self.topics)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for i, t in enumerate(self.topics):
            end = " -e" if i == 0 else ""
            cmd = (f"kcat -C -b {self.source} -t {t} -o beginning -u -q{end} | "
                   f"kcat -P -b {self.target} -t {t}")
            self.procs.append(ManagedProcess(f"kcat-pipe-{t}", ["bash", "-c", cmd],
                                             self.workdir / f"kcat-{t}.log").start())

    def stop(self) -> None:
        for p in self.procs:
            p.stop()

    def pids(self) -> list[int]:
        out = []
        for p in self.procs:
            if p.running():
                out += [pid for pid in group_pids(p.pid) if _comm(pid) == "kcat"]
        return out

    def running(self) -> bool:
        """The latency topic's pipe runs; the throughput topic's ends by itself."""
        return bool(self.procs) and self.procs[-1].running()

    def log_path(self) -> Path:
        return self.workdir / f"kcat-{self.topics[0]}.log"

    def settings(self) -> str:
        return "librdkafka defaults; kcat -C -u (unbuffered, one write per record)"


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- process statistics

class Sampler:
    """Samples the summed VmRSS of a replicator's processes every 0.25 s in a thread, and
    keeps each process's last VmHWM (the kernel's own peak) and CPU time."""

    def __init__(self, replicator: Replicator):
        self.rep = replicator
        self.peak_rss_kib = 0
        self.hwm_kib: dict[int, int] = {}
        self.cpu_s: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def sample(self) -> None:
        total = 0
        for pid in self.rep.pids():
            try:
                st = bs.proc_status(pid)
                self.cpu_s[pid] = bs.cpu_seconds(pid)
            except (OSError, KeyError, IndexError):
                continue
            total += st.get("VmRSS", 0)
            self.hwm_kib[pid] = max(self.hwm_kib.get(pid, 0), st.get("VmHWM", 0))
        self.peak_rss_kib = max(self.peak_rss_kib, total)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu_s.values())

    @property
    def hwm_total_kib(self) -> int:
        return sum(self.hwm_kib.values())


# ---------------------------------------------------------------- latency clients

def run_latency(source_bootstrap: str, target_bootstrap: str, source_topic: str,
                target_topic: str, rate: float, seconds: float, warmup_s: float,
                workdir: Path, isolations=("read_committed", "read_uncommitted"),
                grace: float = 30) -> dict:
    """A paced producer on the source topic and one latency consumer per isolation level on
    the target topic, each a process of its own. Returns the consumers' results by level and
    the producer's."""
    py = sys.executable
    records = int(rate * seconds)
    warmup = int(rate * warmup_s)
    consumers = {}
    for iso in isolations:
        ready = workdir / f"ready-{iso}"
        ready.unlink(missing_ok=True)
        consumers[iso] = (ready, subprocess.Popen(
            [py, str(CLIENTS), "latency", "--bootstrap", target_bootstrap, "--topic",
             target_topic, "--records", str(records), "--warmup", str(warmup), "--isolation",
             iso, "--timeout", str(seconds + grace + 10), "--ready", str(ready)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(r.exists() for r, _ in consumers.values()):
        time.sleep(0.1)
    stalls0 = pressure_stalls()
    prod = subprocess.run([py, str(CLIENTS), "pace", "--bootstrap", source_bootstrap,
                           "--topic", source_topic, "--rate", str(rate), "--seconds",
                           str(seconds)], capture_output=True, text=True,
                          timeout=seconds * 3 + 60)
    out = {"producer": _json_line(prod.stdout, prod.stderr),
           "stalls": stall_shares(stalls0, pressure_stalls())}
    for iso, (_, proc) in consumers.items():
        try:
            stdout, stderr = proc.communicate(timeout=seconds + grace + 40)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        out[iso] = _json_line(stdout, stderr)
    return out


def pressure_stalls() -> dict:
    """The kernel's pressure stall totals (µs some task waited: for a CPU, for I/O) and a
    monotonic clock in µs; empty where /proc/pressure is missing."""
    out = {"t": time.monotonic() * 1e6}
    for kind in ("cpu", "io"):
        try:
            some = Path(f"/proc/pressure/{kind}").read_text().splitlines()[0]
        except OSError:
            return {}
        out[kind] = float(some.rsplit("total=", 1)[1])
    return out


def stall_shares(before: dict, after: dict) -> dict:
    """The share of the time between two pressure_stalls() readings that some task was
    stalled waiting for a CPU or for I/O: how contended the machine was meanwhile."""
    if not before or not after or after["t"] <= before["t"]:
        return {}
    span = after["t"] - before["t"]
    return {k: (after[k] - before[k]) / span for k in ("cpu", "io")}


def _json_line(stdout: str, stderr: str) -> dict:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": stderr.strip()[-300:] or "no output"}
    return json.loads(lines[-1])


def copy_binary(binary: Path, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / binary.name
    shutil.copy2(binary, local)
    return local


def tern_version(binary: Path) -> str:
    return subprocess.run([str(binary), "--version"], capture_output=True,
                          text=True).stdout.strip()
