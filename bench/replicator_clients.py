#!/usr/bin/env python3
"""The clients of bench/replicator_bench.py's latency phase, each run as its own process so that
neither waits for the other's Python interpreter lock:

    replicator_clients.py pace --bootstrap B --topic T --rate R --seconds S
        writes R records/s for S seconds, each value carrying its sequence number and the
        wall-clock time (ns) of its produce() call; prints one JSON line.
    replicator_clients.py latency --bootstrap B --topic T --records N --isolation LEVEL ...
        reads the topic from its beginning (assign mode, no group) and takes, per record,
        arrival time - the time in its value; prints one JSON line with the percentiles.

Also the record shape shared by every phase: `value(seq, ts_ns)`.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time

RECORD_SIZE = 1024
PARTITIONS = 6
_HEADER = 31            # "%010d %019d " : sequence number and produce time in ns
_POOL = 4096            # distinct bodies, so a compressor sees no repeats within a batch
_bodies: list[bytes] = []


def value(seq: int, ts_ns: int) -> bytes:
    """A RECORD_SIZE-byte value of printable characters without a newline (the kcat pipe
    splits records at newlines): sequence number, produce time in ns, random letters."""
    if not _bodies:
        rnd = random.Random(1)
        letters = (string.ascii_letters + string.digits).encode()
        for _ in range(_POOL):
            _bodies.append(bytes(rnd.choices(letters, k=RECORD_SIZE - _HEADER)))
    return b"%010d %019d " % (seq, ts_ns) + _bodies[seq % _POOL]


def parse(v: bytes) -> tuple[int, int]:
    return int(v[:10]), int(v[11:30])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def pace(a) -> dict:
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 1, "acks": "all",
                  "enable.idempotence": False, "compression.type": "none"})
    errors = []
    acked_ms: list[float] = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked_ms.append((time.time_ns() - parse(msg.value())[1]) / 1e6)

    total = int(a.rate * a.seconds)
    start = time.monotonic()
    for seq in range(total):
        due = start + seq / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        p.produce(a.topic, value(seq, time.time_ns()), partition=seq % PARTITIONS,
                  on_delivery=report)
        p.poll(0)
    elapsed = time.monotonic() - start
    left = p.flush(30)
    acked_ms.sort()
    return {"sent": total, "seconds": elapsed, "rate": total / elapsed if elapsed else 0,
            "undelivered": left, "errors": len(errors), "first_error": errors[:1],
            "ack_p50_ms": percentile(acked_ms, 0.5), "ack_p99_ms": percentile(acked_ms, 0.99)}


def latency(a) -> dict:
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "tern-bench-latency",
                  "enable.auto.commit": False, "isolation.level": a.isolation,
                  "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(a.topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    c.poll(1.0)  # connects and fetches once before "ready"
    if a.ready:
        open(a.ready, "w").close()
    deadline = time.monotonic() + a.timeout
    seen: set[int] = set()
    lat_ms: list[float] = []
    errors = 0
    while len(seen) < a.records and time.monotonic() < deadline:
        # poll() hands over each record as soon as it is there (consume(n) would wait for n).
        m = c.poll(0.2)
        if m is None:
            continue
        now_ns = time.time_ns()
        if m.error():
            errors += 1
            continue
        seq, ts = parse(m.value())
        if seq in seen:
            continue
        seen.add(seq)
        if seq >= a.warmup:
            lat_ms.append((now_ns - ts) / 1e6)
    c.close()
    lat_ms.sort()
    return {"received": len(seen), "measured": len(lat_ms), "errors": errors,
            "p50_ms": percentile(lat_ms, 0.50), "p99_ms": percentile(lat_ms, 0.99),
            "p999_ms": percentile(lat_ms, 0.999),
            "max_ms": lat_ms[-1] if lat_ms else float("nan"),
            "mean_ms": sum(lat_ms) / len(lat_ms) if lat_ms else float("nan")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("pace")
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--topic", required=True)
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--seconds", type=float, required=True)
    s = sub.add_parser("latency")
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--topic", required=True)
    s.add_argument("--records", type=int, required=True)
    s.add_argument("--warmup", type=int, default=0, help="sequence numbers below this are "
                   "left out of the statistics")
    s.add_argument("--isolation", default="read_committed")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("--ready", help="a file created once the consumer has fetched")
    a = p.parse_args()
    out = pace(a) if a.mode == "pace" else latency(a)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
