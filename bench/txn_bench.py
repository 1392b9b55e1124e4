#!/usr/bin/env python3
"""tern-broker side by side with Apache Kafka 4.4 for what consumer groups and transactions add:
transactional produce throughput and end-to-end latency into a consumer group, 1 KiB records.

    ~/.cache/tern/venv/bin/python bench/txn_bench.py [--quick]

Each broker runs alone, with its defaults (tern-broker: fsync on every acknowledged
batch, marker and transaction state; Kafka: no fsync per write). Per broker, on topics of 6
partitions with one replica:
  - transactional throughput: kafka-producer-perf-test with a transactional id, a transaction
    every --transaction-ms (default 100 ms), acks=all, at full speed; then the librdkafka
    client (bench/rdkafka_client.cc, produce --transaction-ms) the same way, --rdkafka-records
    records: Kafka's Java client needs more than a core at these rates, so on a small machine
    it is the client's limit as much as the broker's;
  - end-to-end latency: the librdkafka client (bench/rdkafka_client.cc, mode e2e) produces at a
    fixed rate, acks=all, and a consumer of a consumer group (subscribe) in the same process
    reads; the latency of each record is from produce() to the consumer returning it. The
    first two seconds are a warm-up.
With --rounds N (default 4, --quick 1) each broker runs N times, a fresh broker each time, the
two taking turns (the order alternates from round to round), and the tables give the median of
each figure over the rounds with every round's value beside it: on a shared machine one run of
each can differ by several times from the next.
Writes the tables to stdout and to bench/results/<date>-txn.md (-txn-quick.md with --quick).
A benchmark, not a test: nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import broker_support as bs

PARTITIONS = 6
RECORD_SIZE = 1024
GOAL_TXN_THROUGHPUT = 1.5  # tern/kafka transactional throughput, at least
GOAL_E2E_P99 = 0.5         # tern/kafka p99 end-to-end latency, at most
WARMUP_S = 2


def parse_args() -> argparse.Namespace:
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs, a smoke check")
    p.add_argument("--records", type=int, help="records of the transactional run")
    p.add_argument("--rdkafka-records", type=int,
                   help="records of the librdkafka transactional run")
    p.add_argument("--transaction-ms", type=int, default=100)
    p.add_argument("--rates", help="end-to-end rates, records/s, comma separated")
    p.add_argument("--rate-seconds", type=float)
    p.add_argument("--brokers", default="tern,kafka")
    p.add_argument("--rounds", type=int, help="runs of each broker (default 4, --quick 1)")
    p.add_argument("--tern-broker", type=Path,
                   default=Path(os.environ.get("TERN_BUILD", root / "build")) / "bin" /
                   "tern-broker")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    a.records = a.records or (60000 if a.quick else 400000)
    a.rdkafka_records = a.rdkafka_records or (100000 if a.quick else 1000000)
    a.rates = [int(r) for r in (a.rates or ("1000" if a.quick else "1000,5000")).split(",")]
    a.rate_seconds = a.rate_seconds or (5 if a.quick else 20)
    a.rounds = a.rounds or (1 if a.quick else 4)
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    return a


def run_broker(name: str, args, workdir: Path, client: Path) -> dict:
    broker = bs.start_tern(workdir / name, args.tern_broker) if name == "tern" \
        else bs.start_kafka(workdir / name)
    results: dict[str, dict] = {"notes": broker.notes}
    try:
        time.sleep(2)
        topics = ["txn-throughput", "txn-rdkafka"] + [f"e2e-{rate}" for rate in args.rates]
        bs.create_topics(broker.bootstrap, topics, PARTITIONS)
        cpu0 = bs.cpu_seconds(broker.pid)
        r = bs.run_producer_perf_test(
            broker.bootstrap, "txn-throughput", args.records, "all", -1, RECORD_SIZE,
            args.records // 10,
            extra=["--transactional-id", f"bench-{name}",
                   "--transaction-duration-ms", str(args.transaction_ms)])
        r["broker_cpu_s"] = bs.cpu_seconds(broker.pid) - cpu0
        results["txn"] = r
        print(f"  {name:5} transactional {r.get('records_per_s', r.get('error'))} rec/s",
              flush=True)
        cpu0 = bs.cpu_seconds(broker.pid)
        r = bs.run_rdkafka(client, "produce", broker.bootstrap, "txn-rdkafka",
                           args.rdkafka_records, "all", 0, RECORD_SIZE,
                           args.rdkafka_records // 10,
                           transaction_ms=args.transaction_ms)
        r["broker_cpu_s"] = bs.cpu_seconds(broker.pid) - cpu0
        results["txn-rdkafka"] = r
        print(f"  {name:5} transactional, librdkafka {r.get('records_per_s', r.get('error'))} "
              "rec/s", flush=True)
        for rate in args.rates:
            records = int(rate * (args.rate_seconds + WARMUP_S))
            cpu0 = bs.cpu_seconds(broker.pid)
            r = bs.run_rdkafka(client, "e2e", broker.bootstrap, f"e2e-{rate}", records, "all",
                               rate, RECORD_SIZE, int(rate * WARMUP_S))
            r["broker_cpu_s"] = bs.cpu_seconds(broker.pid) - cpu0
            results[f"e2e-{rate}"] = r
            print(f"  {name:5} e2e {rate}/s p50 {r.get('p50_ms')} p99 {r.get('p99_ms')} ms "
                  f"{r.get('error', '')}", flush=True)
    finally:
        broker.stop()
    return results


def fmt(v, digits=1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def q(t, k) -> str:
    return f"{t / k:.2f}" if t is not None and k else "-"


def header(args) -> str:
    if args.rounds == 1:
        return "| | tern | kafka | tern/kafka |"
    return (f"| | tern (median of {args.rounds}) | kafka (median of {args.rounds}) | tern/kafka "
            "| tern, each round | kafka, each round |")


def rule(args) -> str:
    return "|---|---:|---:|---:|" + ("" if args.rounds == 1 else "---:|---:|")


def rounds_cells(t: dict, k: dict, key: str, field: str, digits: int) -> str:
    if len(t.get("rounds", {}).get(key, {}).get(field, [])) < 2 and \
            len(k.get("rounds", {}).get(key, {}).get(field, [])) < 2:
        return ""
    cell = lambda r: ", ".join(fmt(v, digits) for v in  # noqa: E731
                               r.get("rounds", {}).get(key, {}).get(field, [])) or "-"
    return f" {cell(t)} | {cell(k)} |"


def report(args, res: dict) -> str:
    t, k = res.get("tern", {}), res.get("kafka", {})
    out = [f"# tern-broker vs Apache Kafka: transactions and end-to-end latency "
           f"({datetime.date.today()})", "",
           f"Command: `~/.cache/tern/venv/bin/python bench/txn_bench.py"
           f"{' --quick' if args.quick else ''}"
           f"{f' --rounds {args.rounds}' if args.rounds != (1 if args.quick else 4) else ''}`; "
           f"host: {os.cpu_count()} CPUs, load before "
           f"{os.getloadavg()[0]:.2f}.", ""]
    for name, r in (("tern", t), ("kafka", k)):
        out += [f"- {name}: {note}" for note in r.get("notes", [])]
    out += ["", "## Goals", "", "| goal | tern/kafka | met |", "|---|---:|---|"]
    for key, client_name in (("txn", "kafka-producer-perf-test"), ("txn-rdkafka", "librdkafka")):
        tt, kt = t.get(key, {}).get("records_per_s"), k.get(key, {}).get("records_per_s")
        if tt and kt:
            out.append(f"| transactional throughput ≥ {GOAL_TXN_THROUGHPUT}×, {client_name} | "
                       f"{tt / kt:.2f} | {'yes' if tt / kt >= GOAL_TXN_THROUGHPUT else 'no'} |")
    for rate in args.rates:
        tp, kp = t.get(f"e2e-{rate}", {}).get("p99_ms"), k.get(f"e2e-{rate}", {}).get("p99_ms")
        if tp and kp:
            out.append(f"| p99 end-to-end ≤ {GOAL_E2E_P99}× at {rate} records/s | {tp / kp:.2f} "
                       f"| {'yes' if tp / kp <= GOAL_E2E_P99 else 'no'} |")
    out += ["", f"## Transactional produce, kafka-producer-perf-test, acks=all, a transaction "
                f"every {args.transaction_ms} ms, {args.records} records", "",
            header(args), rule(args)]
    for label, key, d in (("records/s", "records_per_s", 0), ("MB/s", "mb_per_s", 1),
                          ("p50 ms", "p50_ms", 0), ("p99 ms", "p99_ms", 0),
                          ("broker CPU s", "broker_cpu_s", 2)):
        a, b = t.get("txn", {}).get(key), k.get("txn", {}).get(key)
        out.append(f"| {label} | {fmt(a, d)} | {fmt(b, d)} | {q(a, b)} |"
                   f"{rounds_cells(t, k, 'txn', key, d)}")
    out += ["", f"## Transactional produce, librdkafka, acks=all, a transaction every "
                f"{args.transaction_ms} ms, {args.rdkafka_records} records "
                f"({args.rdkafka_records // 10} of them a warm-up)", "",
            "Throughput runs from the first measured record's produce() to the last commit; "
            "latency is each record's, produce() to its delivery report.", "",
            header(args), rule(args)]
    for label, key, d in (("records/s", "records_per_s", 0), ("MB/s", "mb_per_s", 1),
                          ("transactions", "commits", 0),
                          ("p50 ms", "p50_ms", 1), ("p99 ms", "p99_ms", 1),
                          ("broker CPU s", "broker_cpu_s", 2)):
        a, b = t.get("txn-rdkafka", {}).get(key), k.get("txn-rdkafka", {}).get(key)
        out.append(f"| {label} | {fmt(a, d)} | {fmt(b, d)} | {q(a, b)} |"
                   f"{rounds_cells(t, k, 'txn-rdkafka', key, d)}")
    for rate in args.rates:
        key = f"e2e-{rate}"
        out += ["", f"## End-to-end, librdkafka producer (acks=all) to a consumer group, "
                    f"{rate} records/s for {args.rate_seconds:g} s after {WARMUP_S} s", "",
                header(args), rule(args)]
        for label, field, d in (("p50 ms", "p50_ms", 2), ("p99 ms", "p99_ms", 2),
                                ("p99.9 ms", "p999_ms", 2), ("max ms", "max_ms", 2),
                                ("records measured", "records", 0),
                                ("broker CPU s", "broker_cpu_s", 2)):
            a, b = t.get(key, {}).get(field), k.get(key, {}).get(field)
            out.append(f"| {label} | {fmt(a, d)} | {fmt(b, d)} | {q(a, b)} |"
                       f"{rounds_cells(t, k, key, field, d)}")
    for name, r in (("tern", t), ("kafka", k)):
        for key, v in r.items():
            if isinstance(v, dict) and v.get("error"):
                out.append(f"\n{name} {key}: {v['error']}")
    return "\n".join(out) + "\n"


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="tern-txn-bench-") as tmp:
        workdir = Path(tmp)
        client = bs.rdkafka_client(workdir)
        names = args.brokers.split(",")
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for round_ in range(args.rounds):
            for name in (names if round_ % 2 == 0 else names[::-1]):
                print(f"== {name}, round {round_ + 1} of {args.rounds}", flush=True)
                runs[name].append(run_broker(name, args, workdir / f"round-{round_}", client))
        res = {name: bs.median_of(r) for name, r in runs.items()}
    text = report(args, res)
    print(text)
    out = args.out or (Path(__file__).parent / "results" /
                       f"{datetime.date.today()}-txn{'-quick' if args.quick else ''}.md")
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
