"""Tern's main job on one machine: two regions, each a tern-broker, and tern-replicator between
them. A sample producer writes orders in region us-east; a consumer group reads them in region
eu-west. `ternctl watch` shows replication live over the replicator's gRPC API (on a terminal,
a redrawn screen; otherwise a line per second, between the demo's own lines of what was
produced and read). Ctrl-C stops everything cleanly.

Run through scripts/demo, which installs and builds first. `--seconds N` stops after N
seconds and exits non-zero unless every produced record reached the other region.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("TERN_BUILD", ROOT / "build")) / "bin"
TOPIC = "orders"
PARTITIONS = 3


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Region:
    def __init__(self, name: str, port: int, workdir: Path):
        self.name, self.port, self.workdir = name, port, workdir
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if port_open(self.port):
            sys.exit(f"error: port {self.port} for region {self.name} is in use "
                     "(--base-port to choose others)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "tern-broker.log", "ab")
        self.proc = subprocess.Popen(
            [BIN / "tern-broker", "--data-dir", self.workdir / "data", "--listen", self.bootstrap],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait(lambda: port_open(self.port), 30, f"tern-broker of {self.name}", self.proc)


def wait(ready, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            sys.exit(f"error: {what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            sys.exit(f"error: {what} not ready within {timeout:.0f} s")
        time.sleep(0.2)


def scrape(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = None
    for m in re.finditer(r"^" + re.escape(name) + r"(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE):
        total = (total or 0) + float(m.group(1))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, default=9092,
                        help="region us-east on this port, eu-west on +1, metrics on +372, "
                             "the replicator's gRPC API on +373")
    parser.add_argument("--workdir", type=Path, default=ROOT / "demo-data")
    parser.add_argument("--rate", type=int, default=20, help="orders produced per second")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: Ctrl-C)")
    args = parser.parse_args()

    east = Region("us-east", args.base_port, args.workdir / "us-east")
    west = Region("eu-west", args.base_port + 1, args.workdir / "eu-west")
    metrics_port = args.base_port + 372
    grpc_address = f"127.0.0.1:{args.base_port + 373}"
    on_terminal = sys.stdout.isatty()
    procs: list[subprocess.Popen] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    producer = consumer = admin = None
    try:
        for region in (east, west):
            region.start()
            procs.append(region.proc)
            say(f"region {region.name}: tern-broker on {region.bootstrap}")
        admin = AdminClient({"bootstrap.servers": east.bootstrap})
        futures = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        try:
            futures[TOPIC].result(30)
        except Exception as e:  # already there from an earlier run
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise

        config = {
            "source": {"alias": east.name, "bootstrap.servers": east.bootstrap},
            "target": {"alias": west.name, "bootstrap.servers": west.bootstrap},
            "topics": {"include": [TOPIC]},
            "groups": {"include": ["order-audit"]},
            "naming": "identity",
            # delivery: exactly-once (the default), through eu-west's transactions.
            "state_dir": str(args.workdir / "replicator-state"),
            "discovery": {"interval_ms": 1000},
            "groups_sync": {"interval_ms": 1000},
            "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
            "grpc": {"listen": grpc_address},
        }
        config_path = args.workdir / "tern-replicator.yaml"
        config_path.write_text(json.dumps(config, indent=2))
        log = open(args.workdir / "tern-replicator.log", "ab")
        replicator = subprocess.Popen([BIN / "tern-replicator", "--config", config_path],
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        procs.append(replicator)
        say(f"tern-replicator {east.name} -> {west.name}, config {config_path}")
        hints = [f"metrics: curl -s http://127.0.0.1:{metrics_port}/metrics | grep ^tern_",
                 f"gRPC API on {grpc_address}: {BIN / 'ternctl'} --server {grpc_address} "
                 "status (or partitions, groups, translate, pause, resume)",
                 f"logs in {args.workdir}; Ctrl-C stops"]
        for hint in hints:
            say(hint)
        wait(lambda: port_open(args.base_port + 373), 30, "the replicator's gRPC API",
             replicator)
        if on_terminal:
            time.sleep(3)  # time to read the hints before the live view takes the screen
        watch = subprocess.Popen([BIN / "ternctl", "--server", grpc_address, "watch",
                                  "--interval-ms", "1000"], start_new_session=True)
        procs.insert(0, watch)

        producer = Producer({"bootstrap.servers": east.bootstrap, "linger.ms": 5})
        consumer = Consumer({"bootstrap.servers": west.bootstrap, "group.id": "demo-reader",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "isolation.level": "read_committed"})
        consumer_ready = False
        produced = acked = consumed = 0
        seen: set[bytes] = set()

        def on_ack(err, _msg):
            nonlocal acked
            if err is None:
                acked += 1

        started = time.monotonic()
        next_report = started + 2
        while not stopping:
            now = time.monotonic()
            if args.seconds and now - started >= args.seconds:
                break
            if replicator.poll() is not None:
                say(f"tern-replicator exited with {replicator.returncode}; see its log")
                return 1
            for _ in range(max(args.rate // 10, 1)):
                producer.produce(TOPIC, key=f"customer-{produced % 50}".encode(),
                                 value=json.dumps({"order": produced, "at": time.time()}).encode(),
                                 on_delivery=on_ack)
                produced += 1
            producer.poll(0)
            if not consumer_ready and TOPIC in consumer.list_topics(timeout=1).topics:
                consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
                consumer_ready = True
            deadline = time.monotonic() + 0.1
            while consumer_ready and time.monotonic() < deadline:
                m = consumer.poll(0.02)
                if m is not None and m.error() is None:
                    seen.add(m.value())
                    consumed = len(seen)
            if now >= next_report and not on_terminal:  # on a terminal, ternctl watch shows it
                lag = scrape(metrics_port, "tern_replicator_lag_records")
                replicated = scrape(metrics_port, "tern_replicator_records_replicated_total")
                print(f"  produced in {east.name}: {acked:6d}   replicated: "
                      f"{int(replicated or 0):6d}   read in {west.name}: {consumed:6d}   "
                      f"lag: {'?' if lag is None else int(lag)} records", flush=True)
                next_report = now + 2

        producer.flush(10)
        if watch.poll() is None:
            watch.send_signal(signal.SIGTERM)
            watch.wait(10)
        if on_terminal:
            print()
            for hint in hints[:2]:
                say(hint.replace("Ctrl-C stops", ""))
            if not args.seconds:
                say(f"produced in {east.name} {acked}, read in {west.name} {consumed}")
        if args.seconds:
            # Let the last records cross, then check that every one of them did.
            deadline = time.monotonic() + 30
            while consumed < acked and time.monotonic() < deadline:
                m = consumer.poll(0.2)
                if m is not None and m.error() is None:
                    seen.add(m.value())
                    consumed = len(seen)
            say(f"produced {acked}, read in {west.name} {consumed}")
            return 0 if acked > 0 and consumed >= acked else 1
        return 0
    finally:
        # The sample clients go first, so that they do not log the brokers going away.
        if consumer is not None:
            consumer.close()
        producer = admin = None
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
