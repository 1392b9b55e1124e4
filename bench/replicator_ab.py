#!/usr/bin/env python3
"""Two tern-replicator binaries side by side, in alternating rounds: commit time and latency.

Compares builds, not replicators: each round runs binary A and binary B (A first in even
rounds, B first in odd ones) on topics of their own between the same source (Apache Kafka 4.4) and target (tern-broker, or Kafka with
--target kafka) clusters, each with a paced producer on the source and a read_committed
latency consumer on the target (bench/replicator_clients.py), after one warm-up run
that is not counted. Reported per run: commits and
the mean commit time from the replicator's tern_replicator_commit_duration_seconds, latency
p50/p99, the source acknowledgement p50 and the CPU and I/O pressure stalls of the phase.
Medians over the rounds close the report. On a shared machine single runs are noise; compare
medians.

  TERN_BUILD=build ~/.cache/tern/venv/bin/python bench/replicator_ab.py \\
      --a /tmp/tern-replicator.old --b build/bin/tern-replicator --rounds 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from harness.kafka import KafkaPeer  # noqa: E402
from harness.tern import TernBroker  # noqa: E402
import replicator_support as rs  # noqa: E402


def commit_totals(rep: rs.Tern) -> tuple[float, float]:
    m = rep.metrics()
    return (m.get("tern_replicator_commit_duration_seconds_count", 0.0),
            m.get("tern_replicator_commit_duration_seconds_sum", 0.0))


def run(label: str, binary: Path, topic: str, source: str, target: str, workdir: Path,
        args) -> dict:
    rs.create_topics(source, [topic])
    rep = rs.Tern(workdir / topic, source, target, [topic], binary, args.delivery, topic, {})
    rep.start()
    try:
        time.sleep(5)  # start-up, topic creation, the first (empty) commits
        c0, s0 = commit_totals(rep)
        lr = rs.run_latency(source, target, topic, topic, args.rate, args.seconds, 2,
                            workdir, ("read_committed",))
        c1, s1 = commit_totals(rep)
    finally:
        rep.stop()
    commits = c1 - c0
    out = {"label": label, "commits": commits,
           "commit_ms": 1000 * (s1 - s0) / commits if commits else float("nan"),
           "p50_ms": lr["read_committed"].get("p50_ms", float("nan")),
           "p99_ms": lr["read_committed"].get("p99_ms", float("nan")),
           "ack_p50_ms": lr["producer"].get("ack_p50_ms", float("nan")),
           "stalls": lr.get("stalls") or {}}
    s = out["stalls"]
    print(f"{label} {topic}: {commits:.0f} commits, mean commit {out['commit_ms']:.1f} ms, "
          f"latency p50 {out['p50_ms']:.1f} p99 {out['p99_ms']:.1f} ms, source ack p50 "
          f"{out['ack_p50_ms']:.1f} ms, stalled on CPU {s.get('cpu', 0):.0%} / I/O "
          f"{s.get('io', 0):.0%}", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", type=Path, required=True, help="the first tern-replicator binary")
    p.add_argument("--b", type=Path, required=True, help="the second tern-replicator binary")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rate", type=float, default=500, help="records/s (default 500)")
    p.add_argument("--seconds", type=float, default=15, help="length of each run (default 15)")
    p.add_argument("--target", choices=("tern", "kafka"), default="tern")
    p.add_argument("--delivery", choices=("exactly-once", "at-least-once"),
                   default="exactly-once")
    args = p.parse_args()
    for b in (args.a, args.b):
        if not b.is_file():
            p.error(f"{b}: no such binary")
    tmp = Path(tempfile.mkdtemp(prefix="tern-replicator-ab-"))
    source = KafkaPeer(tmp / "source")
    target = TernBroker(tmp / "target") if args.target == "tern" else KafkaPeer(tmp / "target")
    results: dict[str, list[dict]] = {"A": [], "B": []}
    try:
        source.start()
        target.start()
        rs.warm_up(source.bootstrap)
        # A fresh JVM answers the first phase slowly (the JIT): one run, not counted.
        run("warm-up", args.a, "ab-warm-up", source.bootstrap, target.bootstrap, tmp, args)
        for n in range(args.rounds):
            pair = (("A", args.a), ("B", args.b))
            # A first in even rounds, B first in odd ones: neither always meets what the
            # other left behind (its last commit, the target's write-back).
            for label, binary in (pair if n % 2 == 0 else pair[::-1]):
                results[label].append(run(label, binary, f"ab-{label.lower()}-{n}",
                                          source.bootstrap, target.bootstrap, tmp, args))
    finally:
        source.stop()
        target.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nmedians over {args.rounds} rounds ({args.delivery}, {args.rate:g} records/s, "
          f"target {args.target}):")
    for label, binary in (("A", args.a), ("B", args.b)):
        rows = results[label]
        med = {k: statistics.median(r[k] for r in rows)
               for k in ("commit_ms", "p50_ms", "p99_ms", "ack_p50_ms")}
        print(f"  {label} {binary}: mean commit {med['commit_ms']:.1f} ms, latency p50 "
              f"{med['p50_ms']:.1f} p99 {med['p99_ms']:.1f} ms, source ack p50 "
              f"{med['ack_p50_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
