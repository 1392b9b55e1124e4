"""What bench/broker_bench.py stands on: the two brokers under test, their process statistics,
and the clients (Kafka's perf-test tools and the librdkafka client in bench/rdkafka_client.cc)
with parsers for what they print.

Both brokers run on loopback, on free ports, with their data in a fresh directory; each is
stopped before the next one starts, so they never compete with each other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness import paths  # noqa: E402
from harness import kafka as kafka_harness  # noqa: E402
from harness.kafka import KafkaPeer  # noqa: E402
from harness.ports import free_port, is_listening  # noqa: E402
from harness.process import ManagedProcess  # noqa: E402

CLIENT_SOURCE = ROOT / "bench" / "rdkafka_client.cc"
CLIENT_NAME = "tern-bench-rdkafka"
# The server JVM's heap when KAFKA_HEAP_OPTS is unset: see scripts/peers/bin/kafka-cli, which
# follows kafka-server-start.sh's default.
KAFKA_DEFAULT_HEAP = "-Xmx1g -Xms1g (G1GC, MaxGCPauseMillis=20)"


# ---------------------------------------------------------------- process statistics

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM... of a process in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- brokers

@dataclass
class Broker:
    """A running broker under test: its name, bootstrap address and process."""
    name: str
    bootstrap: str
    process: ManagedProcess
    idle_rss_kib: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.stop()


# The first rebalance of an empty consumer group waits this long on both brokers: the Kafka
# peer's setting (tern-broker's built-in default is 3000, as is Kafka's), or a consumer group's
# start-up would be timed against unequal settings.
GROUP_INITIAL_REBALANCE_DELAY_MS = kafka_harness.GROUP_INITIAL_REBALANCE_DELAY_MS


def settle_page_cache() -> None:
    """Writes back every dirty page before a broker starts. Without it, the kernel's periodic
    write-back of what was written before (the 124 MB broker binary copied below, the data the
    Kafka peer left unsynced in its page cache) starts some 30 s later (vm.dirty_expire_centisecs), in the middle of a
    measurement, and queues ahead of tern's fdatasync: one group-commit round then waited
    33-75 ms where it usually waits under 1 ms. Kafka, which does not sync on ack, never waits
    for it. Both brokers start after it, so neither measures the harness's disk traffic."""
    os.sync()


def start_tern(workdir: Path, binary: Path) -> Broker:
    """tern-broker with its defaults (fsync always, group commit) apart from the consumer
    groups' initial rebalance delay, which is the Kafka peer's. The binary is copied into the
    run's directory so that a rebuild during the run cannot swap it."""
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / "tern-broker"
    shutil.copy2(binary, local)
    config = workdir / "tern-broker.yaml"
    config.write_text("group:\n"
                      f"  initial_rebalance_delay_ms: {GROUP_INITIAL_REBALANCE_DELAY_MS}\n")
    settle_page_cache()
    for _ in range(3):
        port = free_port()
        proc = ManagedProcess("tern-broker", [local, "--data-dir", workdir / "data",
                                              "--listen", f"127.0.0.1:{port}",
                                              "--config", config],
                              workdir / "tern-broker.log").start()
        try:
            proc.wait_until(lambda: is_listening("127.0.0.1", port), 30, "the broker listened")
        except Exception:
            proc.stop()
            continue
        broker = Broker("tern", f"127.0.0.1:{port}", proc)
        broker.notes.append("fsync: always (default): each acknowledged batch is fdatasync'ed, "
                            "group-committed")
        broker.notes.append("group.initial_rebalance_delay_ms: "
                            f"{GROUP_INITIAL_REBALANCE_DELAY_MS}, as the Kafka peer's")
        return broker
    raise RuntimeError("tern-broker did not start; see " + str(workdir / "tern-broker.log"))


def start_kafka(workdir: Path) -> Broker:
    """Apache Kafka single node (KRaft, broker+controller) with Kafka's defaults apart from what
    one node needs (internal topics with one replica), as the test harness runs it."""
    heap = os.environ.get("KAFKA_HEAP_OPTS")
    settle_page_cache()
    peer = KafkaPeer(workdir).start()
    broker = Broker("kafka", peer.bootstrap, peer.process)
    broker.notes.append(f"JVM heap: {heap or KAFKA_DEFAULT_HEAP}")
    broker.notes.append("group.initial.rebalance.delay.ms="
                        f"{GROUP_INITIAL_REBALANCE_DELAY_MS}, as Kafka's shipped server.properties")
    broker.notes.append("no fsync per write (log.flush.interval.messages defaults to "
                        "Long.MAX_VALUE): data is on disk when the OS writes the page cache back")
    return broker


def durable_write_mib_s(directory: Path, total_mib: int = 1024) -> float:
    """The disk's sustained durable write rate, in MiB/s: `total_mib` written a MiB at a time,
    each followed by fdatasync, in a file under `directory` (the brokers' filesystem); the rate
    over the second half, since virtual disks often take a burst faster than they sustain. A
    broker that syncs what it acknowledges cannot write faster than this; one that leaves its
    data to the page cache is not bound by it."""
    path = directory / "durable-write-probe.bin"
    block = b"\x5a" * (1 << 20)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        half = time.monotonic()
        for i in range(total_mib):
            if i == total_mib // 2:
                half = time.monotonic()
            os.write(fd, block)
            os.fdatasync(fd)
        seconds = time.monotonic() - half
    finally:
        os.close(fd)
        path.unlink()
    return (total_mib - total_mib // 2) / seconds


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """Creates topics with one replica through the admin API (one request for all)."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names],
                                  operation_timeout=30, request_timeout=30)
    for name, fut in futures.items():
        fut.result(timeout=60)
    # Wait until every partition has a leader in Metadata, as a producer would see it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=10)
        if all(n in md.topics and len(md.topics[n].partitions) == partitions and
               all(p.leader >= 0 for p in md.topics[n].partitions.values()) for n in names):
            return
        time.sleep(0.2)
    raise RuntimeError(f"topics {names} did not get leaders")


# ---------------------------------------------------------------- the librdkafka client

def rdkafka_client(workdir: Path) -> Path:
    """The client built by CMake (target tern-bench-rdkafka) if present, else built here with
    the same flags, so the benchmark never has to touch the shared build directory."""
    built = paths.BUILD / "bench" / CLIENT_NAME
    if built.is_file() and built.stat().st_mtime >= CLIENT_SOURCE.stat().st_mtime:
        return built
    out = workdir / CLIENT_NAME
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["c++", "-std=c++20", "-O2", "-Wall", "-Wextra", str(CLIENT_SOURCE),
                    "-o", str(out), *flags], check=True)
    return out


def rdkafka_version() -> str:
    return subprocess.run(["pkg-config", "--modversion", "rdkafka"], capture_output=True,
                          text=True).stdout.strip()


def run_rdkafka(client: Path, mode: str, bootstrap: str, topic: str, records: int,
                acks: str = "1", rate: float = 0, size: int = 1024, warmup: int = 0,
                timeout: float = 600, settings: dict[str, str] | None = None,
                transaction_ms: float = 0) -> dict:
    """`settings`: librdkafka properties for the client (--set k=v); `transaction_ms`: a
    transactional producer committing that often (produce only)."""
    argv = [str(client), mode, "--bootstrap", bootstrap, "--topic", topic,
            "--records", str(records), "--size", str(size), "--acks", acks,
            "--rate", str(rate), "--timeout", str(timeout)]
    if transaction_ms:
        argv += ["--transaction-ms", str(transaction_ms)]
    for k, v in (settings or {}).items():
        argv += ["--set", f"{k}={v}"]
    if mode in ("produce", "e2e"):
        argv += ["--warmup", str(warmup)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"exit {result.returncode}: {result.stderr.strip()[-400:]}"}
    out = json.loads(lines[-1])
    if result.returncode != 0:
        out["error"] = f"exit {result.returncode}: {result.stderr.strip()[-400:]}"
    return out


# ---------------------------------------------------------------- Kafka's perf-test tools

# The summary line; with --warmup-records a second one ("N steady state records sent, ...")
# covers the records after the warm-up.
_PERF_SUMMARY = re.compile(
    r"(\d+) (?:steady state )?records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th")


def run_producer_perf_test(bootstrap: str, topic: str, records: int, acks: str,
                           throughput: int = -1, size: int = 1024, warmup: int = 0,
                           timeout: float = 900, extra: list[str] | None = None,
                           props: dict[str, str] | None = None) -> dict:
    """`extra`: more arguments, e.g. --transactional-id ID --transaction-duration-ms MS (a
    transactional run, which turns idempotence on itself). `props`: more producer
    properties (--command-property k=v)."""
    idempotence = "true" if extra and "--transactional-id" in extra else "false"
    argv = [str(paths.kafka_tool("kafka-producer-perf-test")), "--topic", topic,
            "--num-records", str(records), "--record-size", str(size),
            "--throughput", str(throughput), "--warmup-records", str(warmup), *(extra or []),
            "--command-property",
            f"bootstrap.servers={bootstrap}", f"acks={acks}", f"enable.idempotence={idempotence}",
            *(f"{k}={v}" for k, v in (props or {}).items())]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    match = None
    for line in result.stdout.splitlines():
        match = _PERF_SUMMARY.search(line) or match
    if result.returncode != 0 or match is None:
        return {"error": f"exit {result.returncode}: {(result.stdout + result.stderr)[-400:]}"}
    sent, rps, mbps, avg, mx, p50, p95, p99, p999 = match.groups()
    return {"records": int(sent), "records_per_s": float(rps), "mb_per_s": float(mbps),
            "avg_ms": float(avg), "max_ms": float(mx), "p50_ms": float(p50),
            "p95_ms": float(p95), "p99_ms": float(p99), "p999_ms": float(p999)}


def run_consumer_perf_test(bootstrap: str, topic: str, records: int,
                           timeout_ms: int = 20000) -> dict:
    """kafka-consumer-perf-test subscribes with a consumer group; it reports MB.sec and
    nMsg.sec on a CSV line after its header."""
    argv = [str(paths.kafka_tool("kafka-consumer-perf-test")), "--bootstrap-server", bootstrap,
            "--topic", topic, "--num-records", str(records), "--timeout", str(timeout_ms),
            "--group", f"tern-bench-{os.getpid()}-{int(time.time())}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True,
                                timeout=timeout_ms / 1000 + 60)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    lines = result.stdout.strip().splitlines()
    header = next((ln for ln in lines if ln.startswith("start.time")), None)
    data = next((ln for ln in lines if ln[:1].isdigit()), None)
    if result.returncode != 0 or header is None or data is None:
        text = (result.stdout + result.stderr).strip().splitlines()
        reason = next((ln for ln in text if "Exception" in ln or "ERROR" in ln),
                      text[-1] if text else "")
        return {"error": f"exit {result.returncode}: {reason[:300]}"}
    names = [n.strip() for n in header.split(",")]
    values = [v.strip() for v in data.split(",")]
    row = dict(zip(names, values))
    out = {"records": int(float(row.get("data.consumed.in.nMsg", 0))),
           "records_per_s": float(row.get("nMsg.sec", 0)),
           "mb_per_s": float(row.get("MB.sec", 0)),
           # nMsg.sec counts from the start, joining the group included; these leave it out.
           "rebalance_ms": float(row.get("rebalance.time.ms", 0)),
           "fetch_records_per_s": float(row.get("fetch.nMsg.sec", 0)),
           "fetch_mb_per_s": float(row.get("fetch.MB.sec", 0))}
    if out["records"] < records:
        out["error"] = f"consumed {out['records']} of {records} records"
    return out


# ---------------------------------------------------------------- rounds

def median_of(runs: list[dict]) -> dict:
    """One broker's runs folded into one result: the median of every number of every scenario,
    and under "rounds" each scenario's values of every figure, in the order they ran."""
    out: dict = {"notes": runs[0].get("notes", []), "rounds": {}}
    for key in runs[0]:
        if key == "notes" or not isinstance(runs[0][key], dict):
            continue
        merged, per_round = {}, {}
        fields = {f for r in runs for f, v in r.get(key, {}).items()
                  if isinstance(v, (int, float))}
        for field in fields:
            values = [r[key][field] for r in runs if isinstance(r.get(key, {}).get(field),
                                                                 (int, float))]
            merged[field] = statistics.median(values)
            per_round[field] = values
        errors = [r[key]["error"] for r in runs if r.get(key, {}).get("error")]
        if errors:
            merged["error"] = "; ".join(errors)
        out[key] = merged
        out["rounds"][key] = per_round
    return out
