#!/usr/bin/env python3
"""tern-broker side by side with Apache Kafka 4.4: produce and consume throughput, produce
latency at full speed and at equal load, broker CPU and peak memory, for 1 KiB records.

    ~/.cache/tern/venv/bin/python bench/broker_bench.py [--records N] [--quick]

Each broker runs alone, with its defaults (tern-broker: fsync on every acknowledged
batch; Kafka: no fsync per write). Per broker, on topics of 6 partitions with one replica:
  - kafka-producer-perf-test at full speed (--throughput -1), acks=1 and acks=all;
    the first tenth of the records (two seconds at equal load) are a warm-up, left out of the
    statistics by both clients;
  - the librdkafka client (bench/rdkafka_client.cc) at full speed, acks=1 and acks=all, with
    the latency of each record taken from its delivery report;
  - both clients at the same fixed rates on both brokers (equal load), acks=1 and acks=all,
    with linger.ms=0 (--equal-load-linger) so that the latency is the broker's and not the
    clients' batching wait (5 ms by default in both): the latency comparison that counts;
  - consume: kafka-consumer-perf-test (needs a consumer group) and the librdkafka client in
    assign mode (no group), reading what perf-test wrote;
  - the broker's CPU time per scenario and its peak RSS (VmHWM) over the whole session.
A full run has four rounds (--rounds N; --quick one): each round starts each broker afresh,
the order alternating from round to round, and the tables give each figure's median over the
rounds; the goals table also gives the ratio within each round.
Writes the tables to stdout and to bench/results/<date>.md. A benchmark, not a test: nothing
here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import broker_support as bs

PARTITIONS = 6
RECORD_SIZE = 1024
GOAL_THROUGHPUT = 1.5   # tern/kafka produce throughput, at least
GOAL_P99 = 0.5          # tern/kafka p99 produce latency at equal load, at most
GOAL_MEMORY = 0.25      # tern/kafka peak RSS, at most
WARMUP_S = 2            # seconds of each equal-load run left out of its statistics
SATURATED = 0.95        # an equal-load run below this share of its rate did not hold the load


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small run for a smoke check (~2 min)")
    p.add_argument("--records", type=int, help="records per full-speed run (default 600000, "
                   "quick 40000)")
    p.add_argument("--rates", help="equal-load rates in records/s, comma-separated (default "
                   "5000,10000; quick 5000)")
    p.add_argument("--rate-seconds", type=float, help="length of each equal-load run (default "
                   "20, quick 4)")
    p.add_argument("--equal-load-linger", type=int, default=0,
                   help="linger.ms of both clients at equal load (default 0; 5 is both "
                   "clients' own default)")
    p.add_argument("--brokers", default="tern,kafka", help="which brokers, in order")
    p.add_argument("--rounds", type=int, help="runs of each broker, taking turns (default 4, "
                   "quick 1); the tables give medians")
    p.add_argument("--tern-broker", type=Path, default=bs.paths.BIN / "tern-broker")
    p.add_argument("--workdir", type=Path, help="where brokers keep data (default: a temporary "
                   "directory, removed afterwards)")
    p.add_argument("--out", type=Path, help="results file (default bench/results/<date>.md)")
    a = p.parse_args()
    a.records = a.records or (40000 if a.quick else 600000)
    a.rates = [int(r) for r in (a.rates or ("5000" if a.quick else "5000,10000")).split(",")]
    a.rate_seconds = a.rate_seconds or (4 if a.quick else 20)
    a.rounds = a.rounds or (1 if a.quick else 4)
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    return a


def scenarios(args) -> list[dict]:
    """Every run, in order; `key` names the topic it writes (fresh per run) and the table."""
    out = []
    for acks in ("1", "all"):
        out.append(dict(key=f"perf-max-acks{acks}", client="perf-test", acks=acks, rate=-1,
                        records=args.records, warmup=args.records // 10,
                        title=f"Produce, kafka-producer-perf-test, full speed, acks={acks}"))
    for acks in ("1", "all"):
        out.append(dict(key=f"rdk-max-acks{acks}", client="librdkafka", acks=acks, rate=-1,
                        records=args.records, warmup=args.records // 10,
                        title=f"Produce, librdkafka, full speed, acks={acks}"))
    for rate in args.rates:
        for client in ("perf-test", "librdkafka"):
            for acks in ("1", "all"):
                out.append(dict(key=f"{'perf' if client == 'perf-test' else 'rdk'}-"
                                    f"r{rate}-acks{acks}", client=client, acks=acks, rate=rate,
                                records=int(rate * (args.rate_seconds + WARMUP_S)),
                                warmup=int(rate * WARMUP_S),
                                title=f"Produce at equal load {rate} records/s, {client}, "
                                      f"acks={acks}"))
    return out


def run_broker(name: str, args, workdir: Path, client: Path) -> dict:
    """Starts one broker, runs every scenario against it, stops it. Returns results by key."""
    broker = bs.start_tern(workdir / name, args.tern_broker) if name == "tern" \
        else bs.start_kafka(workdir / name)
    results: dict[str, dict] = {}
    try:
        time.sleep(2)  # let start-up work (JIT, log recovery) settle before measuring idle RSS
        broker.idle_rss_kib = bs.proc_status(broker.pid)["VmRSS"]
        runs = scenarios(args)
        bs.create_topics(broker.bootstrap, [r["key"] for r in runs], PARTITIONS)
        for run in runs:
            load = os.getloadavg()[0]
            cpu0 = bs.cpu_seconds(broker.pid)
            props = {"linger.ms": str(args.equal_load_linger)} if run["rate"] > 0 else None
            if run["client"] == "perf-test":
                r = bs.run_producer_perf_test(broker.bootstrap, run["key"], run["records"],
                                              run["acks"], run["rate"], RECORD_SIZE,
                                              run["warmup"], props=props)
            else:
                r = bs.run_rdkafka(client, "produce", broker.bootstrap, run["key"],
                                   run["records"], run["acks"], max(run["rate"], 0),
                                   RECORD_SIZE, run["warmup"], settings=props)
            r["broker_cpu_s"] = bs.cpu_seconds(broker.pid) - cpu0
            r["records_total"] = run["records"]
            r["load1"] = load
            results[run["key"]] = r
            log(f"  {name:5} {run['key']:18} {summary(r)}")
        source = "perf-max-acks1"
        cpu0 = bs.cpu_seconds(broker.pid)
        r = bs.run_rdkafka(client, "consume", broker.bootstrap, source, args.records)
        r["broker_cpu_s"] = bs.cpu_seconds(broker.pid) - cpu0
        results["consume-rdk"] = r
        log(f"  {name:5} {'consume-rdk':18} {summary(r)}")
        cpu0 = bs.cpu_seconds(broker.pid)
        r = bs.run_consumer_perf_test(broker.bootstrap, source, args.records)
        r["broker_cpu_s"] = bs.cpu_seconds(broker.pid) - cpu0
        results["consume-perf"] = r
        log(f"  {name:5} {'consume-perf':18} {summary(r)}")
        status = bs.proc_status(broker.pid)
        results["memory"] = {"idle_rss_mib": broker.idle_rss_kib / 1024,
                             "peak_rss_mib": status["VmHWM"] / 1024,
                             "cpu_s_total": bs.cpu_seconds(broker.pid)}
        results["notes"] = broker.notes
    finally:
        broker.stop()
    return results


def summary(r: dict) -> str:
    if "error" in r and "records_per_s" not in r:
        return "ERROR " + r["error"]
    text = f"{r['records_per_s']:10.0f} rec/s {r['mb_per_s']:7.1f} MB/s"
    if "p99_ms" in r:
        text += f"  p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms"
    text += f"  broker cpu {r['broker_cpu_s']:5.1f} s"
    return text + (f"  ({r['error']})" if "error" in r else "")


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- report

def ratio(t, k) -> str:
    if t is None or k is None or k == 0:
        return "—"
    return f"{t / k:.2f}"


def fmt(v, digits=1) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def table(title: str, rows: list[tuple[str, object, object, int]]) -> list[str]:
    out = [f"### {title}", "", "| metric | tern | kafka | tern/kafka |", "|---|---:|---:|---:|"]
    for label, t, k, digits in rows:
        out.append(f"| {label} | {fmt(t, digits)} | {fmt(k, digits)} | {ratio(t, k)} |")
    return out + [""]


def produce_rows(t: dict, k: dict) -> list[tuple]:
    g = lambda r, key: r.get(key) if r else None  # noqa: E731
    mb = lambda r: (r["mb_per_s"] if r and "mb_per_s" in r else None)  # noqa: E731
    cpu_per_mib = lambda r: (r["broker_cpu_s"] * 1000 /  # noqa: E731
                             (r["records_total"] * RECORD_SIZE / 2**20)
                             if r and "records_per_s" in r else None)
    return [("records/s", g(t, "records_per_s"), g(k, "records_per_s"), 0),
            ("MB/s", mb(t), mb(k), 1),
            ("latency avg, ms", g(t, "avg_ms"), g(k, "avg_ms"), 2),
            ("latency p50, ms", g(t, "p50_ms"), g(k, "p50_ms"), 2),
            ("latency p99, ms", g(t, "p99_ms"), g(k, "p99_ms"), 2),
            ("latency p99.9, ms", g(t, "p999_ms"), g(k, "p999_ms"), 2),
            ("latency max, ms", g(t, "max_ms"), g(k, "max_ms"), 2),
            ("broker CPU, ms per MiB", cpu_per_mib(t), cpu_per_mib(k), 1),
            ("load average (1 min) at start", g(t, "load1"), g(k, "load1"), 2)]


def errors(key: str, res: dict) -> list[str]:
    return [f"- {b}: {res[b][key]['error']}" for b in ("tern", "kafka")
            if b in res and key in res[b] and "error" in res[b][key]]


def machine() -> list[str]:
    mem_kib = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                       if ln.startswith("MemTotal")).split()[1])
    cpu = next((ln.split(":", 1)[1].strip() for ln in
                Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")),
               platform.processor())
    return [f"- machine: {os.cpu_count()} CPUs ({cpu}), {mem_kib / 2**20:.1f} GiB memory, "
            f"kernel {platform.release()}"]


def versions(args) -> list[str]:
    tern = subprocess.run([str(args.tern_broker), "--version"],
                          capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(bs.ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return [f"- tern-broker: {tern or '?'} (tree {commit})",
            "- Apache Kafka: 4.4.0 (broker and perf-test tools, scripts/versions.env)",
            f"- librdkafka: {bs.rdkafka_version()} (Debian package; bench/rdkafka_client.cc)",
            f"- Java: {java.splitlines()[0] if java else '?'}"]


def goals(args, t: dict, k: dict) -> list[tuple[str, str, str, float, bool]]:
    """(key, goal, scenario, tern/kafka, met) for every goal both brokers have figures for."""
    out = []
    for s in scenarios(args):
        tr, kr = t.get(s["key"]), k.get(s["key"])
        if not tr or not kr or "records_per_s" not in tr or "records_per_s" not in kr:
            continue
        if s["rate"] < 0:
            q = tr["records_per_s"] / kr["records_per_s"]
            out.append((s["key"], f"produce throughput ≥ {GOAL_THROUGHPUT}×", s["title"], q,
                        q >= GOAL_THROUGHPUT))
        else:
            q = tr["p99_ms"] / kr["p99_ms"] if kr["p99_ms"] else float("inf")
            held = [n for n, r in (("tern", tr), ("kafka", kr))
                    if r["records_per_s"] < SATURATED * s["rate"]]
            note = f" (did not hold the rate: {', '.join(held)})" if held else ""
            out.append((s["key"], f"p99 latency ≤ {GOAL_P99}×", s["title"] + note, q,
                        q <= GOAL_P99))
    if "peak_rss_mib" in t.get("memory", {}) and "peak_rss_mib" in k.get("memory", {}):
        q = t["memory"]["peak_rss_mib"] / k["memory"]["peak_rss_mib"]
        out.append(("memory", f"peak RSS ≤ {GOAL_MEMORY}×", "whole session", q,
                    q <= GOAL_MEMORY))
    return out


def report(args, res: dict, load_before: str, load_after: str,
           started: datetime.datetime, seconds: float) -> str:
    t, k = res.get("tern", {}), res.get("kafka", {})
    cmd = "~/.cache/tern/venv/bin/python bench/broker_bench.py " + " ".join(sys.argv[1:])
    out = [f"# tern-broker vs Apache Kafka — {started:%Y-%m-%d %H:%M}", "",
           f"Command: `{cmd.strip()}` ({seconds / 60:.1f} min)", ""]
    out += machine() + versions(args)
    out += [f"- load before: {load_before}", f"- load after: {load_after}",
            f"- workload: {RECORD_SIZE}-byte records, topics of {PARTITIONS} partitions, "
            f"1 replica, no keys, no compression, enable.idempotence=false; "
            f"{args.records} records per full-speed run (the first tenth a warm-up, left out "
            f"of the statistics); equal load {', '.join(map(str, args.rates))} records/s for "
            f"{args.rate_seconds:g} s each after a {WARMUP_S} s warm-up, both clients with "
            f"linger.ms={args.equal_load_linger} (full speed: the clients' defaults)",
            "- each broker ran alone, with its defaults; clients ran on the same "
            "machine, so broker and client share the CPUs"]
    if "disk_mib_s" in res:
        out.append(f"- disk: {res['disk_mib_s']:.0f} MiB/s sustained when each MiB written is "
                   "fdatasync'ed (the second half of 1 GiB, written in the run's directory before the "
                   "brokers start): a reference for tern-broker's acks, which wait for "
                   "fdatasync (Kafka's wait for the page cache only); not a strict ceiling, "
                   "as larger synced writes can go faster and the rate drifts")
    for name, r in (("tern", t), ("kafka", k)):
        for note in r.get("notes", []):
            out.append(f"- {name}: {note}")
    rounds = res.get("rounds", {})
    pairs = list(zip(rounds.get("tern", []), rounds.get("kafka", [])))
    out += ["", "## Goals", ""]
    if len(pairs) > 1:
        out += [f"Each broker ran {len(pairs)} times, taking turns; every figure below is the "
                "median of its runs, and the goals compare those medians. 'each round' is "
                "the ratio within each round.", "",
                "| goal | scenario | tern/kafka | met | each round |", "|---|---|---:|---|---|"]
    else:
        out += ["| goal | scenario | tern/kafka | met |", "|---|---|---:|---|"]
    per_round = [{g[0]: g[3] for g in goals(args, rt, rk)} for rt, rk in pairs] \
        if len(pairs) > 1 else []
    for key, goal, scenario, q, met in goals(args, t, k):
        digits = 3 if key == "memory" else 2
        row = f"| {goal} | {scenario} | {q:.{digits}f} | {'yes' if met else 'no'} |"
        if per_round:
            row += " " + ", ".join(f"{r[key]:.{digits}f}" if key in r else "-"
                                   for r in per_round) + " |"
        out.append(row)
    out.append("")
    shares = [f"{client} {t[key]['mb_per_s'] * 1e6 / 2**20 / res['disk_mib_s']:.0%}"
              for client, key in (("perf-test", "perf-max-acksall"),
                                  ("librdkafka", "rdk-max-acksall"))
              if "disk_mib_s" in res and "mb_per_s" in t.get(key, {})]
    if shares:
        out += ["tern-broker's full-speed acks=all runs wrote at this share of the disk's "
                "probed durable rate (above): " + ", ".join(shares) + ".", ""]
    for s in scenarios(args):
        out += table(s["title"], produce_rows(t.get(s["key"]), k.get(s["key"])))
        out += errors(s["key"], res) + ([""] if errors(s["key"], res) else [])
    for key, title in (("consume-rdk", "Consume, librdkafka, assign mode (no group), "
                                       "what perf-test wrote at acks=1"),
                       ("consume-perf", "Consume, kafka-consumer-perf-test (consumer group)")):
        ok = lambda r: r if "records_per_s" in r else {}  # noqa: E731
        tr, kr = ok(t.get(key, {})), ok(k.get(key, {}))
        rows = [("records/s", tr.get("records_per_s"), kr.get("records_per_s"), 0),
                ("MB/s", tr.get("mb_per_s"), kr.get("mb_per_s"), 1)]
        if key == "consume-perf":  # perf-test's rates above include joining the group
            rows += [("joining the group (rebalance), ms", tr.get("rebalance_ms"),
                      kr.get("rebalance_ms"), 0),
                     ("records/s after joining", tr.get("fetch_records_per_s"),
                      kr.get("fetch_records_per_s"), 0),
                     ("MB/s after joining", tr.get("fetch_mb_per_s"),
                      kr.get("fetch_mb_per_s"), 1)]
        rows.append(("broker CPU, s", tr.get("broker_cpu_s"), kr.get("broker_cpu_s"), 2))
        out += table(title, rows)
        out += errors(key, res) + ([""] if errors(key, res) else [])
    tm, km = t.get("memory", {}), k.get("memory", {})
    out += table("Broker memory and CPU over the whole session",
                 [("RSS after start, MiB", tm.get("idle_rss_mib"), km.get("idle_rss_mib"), 1),
                  ("peak RSS (VmHWM), MiB", tm.get("peak_rss_mib"), km.get("peak_rss_mib"), 1),
                  ("CPU time, s", tm.get("cpu_s_total"), km.get("cpu_s_total"), 1)])
    return "\n".join(out)


def main() -> int:
    args = parse_args()
    started = datetime.datetime.now()
    t0 = time.monotonic()
    load_before = Path("/proc/loadavg").read_text().strip()
    tmp = tempfile.TemporaryDirectory(prefix="tern-bench-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    client = bs.rdkafka_client(workdir)
    res: dict[str, dict] = {"disk_mib_s": bs.durable_write_mib_s(workdir)}
    log(f"disk: {res['disk_mib_s']:.0f} MiB/s written with fdatasync per MiB")
    try:
        names = args.brokers.split(",")
        res["rounds"] = {name: [] for name in names}
        for round_ in range(args.rounds):
            for name in (names if round_ % 2 == 0 else names[::-1]):
                log(f"== {name}, round {round_ + 1} of {args.rounds}")
                res["rounds"][name].append(
                    run_broker(name, args, workdir / f"round-{round_}", client))
        for name in names:
            res[name] = bs.median_of(res["rounds"][name])
    finally:
        if tmp is not None:
            tmp.cleanup()
    load_after = Path("/proc/loadavg").read_text().strip()
    text = report(args, res, load_before, load_after, started, time.monotonic() - t0)
    print(text)
    out = args.out or (bs.ROOT / "bench" / "results" /
                       f"{started:%Y-%m-%d}{'-quick' if args.quick else ''}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
