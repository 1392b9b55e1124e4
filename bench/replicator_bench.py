#!/usr/bin/env python3
"""tern-replicator side by side with MirrorMaker 2 and a naive `kcat -C | kcat -P` pipe, in one
run: throughput, end-to-end latency and peak memory of replication between two Apache Kafka
clusters, on loopback and through an emulated WAN link, for 1 KiB records.

    ~/.cache/tern/venv/bin/python bench/replicator_bench.py [--quick]

One source and one target cluster (Kafka 4.4, single node each) serve every replicator in turn;
each replicator has topics of its own (6 partitions). Per scenario (local, then wan) and per
replicator (tern exactly-once, tern at-least-once, MirrorMaker 2 at-least-once and
exactly-once, kcat pipe):
  - throughput: N records are preloaded on the source before any replicator starts; then the
    replicator starts and the target is polled every 0.1 s until it has all of them;
  - latency: a producer writes a fixed rate with its wall-clock time in each value, and two
    consumers on the target (read_committed and read_uncommitted) take arrival - produce time;
  - memory and CPU: VmRSS sampled every 0.25 s, VmHWM, CPU time of the replicator's processes.
The wan scenario puts toxiproxy between the replicators and the source (latency each way and a
bandwidth cap); producers keep writing to the source directly.
Writes the tables to stdout and to bench/results/<date>-replicator.md. A benchmark, not a test:
nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import replicator_support as rs
from replicator_clients import PARTITIONS, RECORD_SIZE

VARIANTS = {
    "tern-eos": "tern exactly-once",
    "tern-eos-tuned": "tern exactly-once, tuned",  # only with --tuned
    "tern-alo": "tern at-least-once",
    "tern-alo-tuned": "tern at-least-once, tuned",  # only with --tuned
    "mm2": "MirrorMaker 2",
    "mm2-eos": "MirrorMaker 2 exactly-once",
    "kcat": "kcat pipe",
}
DEFAULT_VARIANTS = ["tern-eos", "tern-alo", "mm2", "mm2-eos", "kcat"]
MM2 = "mm2"
MM2_EOS = "mm2-eos"
POLL_S = 0.1
SETTLE_S = 2.0  # a count that also holds transaction markers is final once this long unchanged
WARMUP_RECORDS = 100000  # the warm-up round, at most
WIRE_IDLE = 256 * 1024  # bytes through the proxy before the copying counts as started
ISOLATIONS = ("read_committed", "read_uncommitted")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small run for a smoke check "
                   "(a few minutes)")
    p.add_argument("--records", type=int, help="records preloaded per replicator, local "
                   "scenario (default 1000000, quick 200000)")
    p.add_argument("--wan-records", type=int, help="records preloaded per replicator, wan "
                   "scenario (default 200000, quick 30000)")
    p.add_argument("--rate", type=float, default=2000, help="latency phase: records/s "
                   "(default 2000)")
    p.add_argument("--latency-seconds", type=float, help="latency phase length (default 30, "
                   "quick 10); the first --warmup-seconds are left out of the statistics")
    p.add_argument("--warmup-seconds", type=float, default=2)
    p.add_argument("--variants", help="which replicators, in order (default "
                   f"{','.join(DEFAULT_VARIANTS)}; with --tuned, tern-eos-tuned and tern-alo-tuned after "
                   "tern-eos and tern-alo)")
    p.add_argument("--scenarios", default="local,wan", help="local, wan or both")
    p.add_argument("--wan-latency-ms", type=int, default=40, help="added each way (default 40)")
    p.add_argument("--wan-mbit", type=float, default=50, help="bandwidth cap each way, "
                   "Mbit/s (default 50)")
    p.add_argument("--tern-settings", default="{}", help="JSON merged into both tern "
                   "configurations, e.g. '{\"commit_interval_ms\": 500, \"target\": "
                   "{\"linger.ms\": \"20\"}}'")
    p.add_argument("--mm2-settings", default="{}", help="JSON of extra mm2.properties lines")
    p.add_argument("--tuned", help="JSON merged over --tern-settings for extra replicators, "
                   "tern-eos-tuned and tern-alo-tuned, run beside the others to show what "
                   "settings change, e.g. '{\"commit_interval_ms\": 1000}'")
    p.add_argument("--timeout", type=float, help="longest copying time of one throughput "
                   "phase after its first record, s (default 300, quick 150)")
    p.add_argument("--startup-timeout", type=float, default=180, help="longest wait for a "
                   "replicator's first copied record, s (default 180)")
    p.add_argument("--no-verify", action="store_true", help="skip reading each target topic "
                   "back after its run")
    p.add_argument("--tern-replicator", type=Path,
                   default=rs.bs.paths.BIN / "tern-replicator")
    p.add_argument("--workdir", type=Path, help="keeps the clusters' data and every log "
                   "(default: a temporary directory, removed afterwards)")
    p.add_argument("--out", type=Path, help="results file (default "
                   "bench/results/<date>-replicator[-quick].md)")
    a = p.parse_args()
    a.records = a.records or (200000 if a.quick else 1000000)
    a.wan_records = a.wan_records or (30000 if a.quick else 200000)
    a.latency_seconds = a.latency_seconds or (10 if a.quick else 30)
    a.timeout = a.timeout or (150 if a.quick else 300)
    if a.variants:
        a.variants = [v for v in a.variants.split(",") if v]
    else:
        a.variants = list(DEFAULT_VARIANTS)
        if a.tuned:
            a.variants.insert(a.variants.index("tern-eos") + 1, "tern-eos-tuned")
            a.variants.insert(a.variants.index("tern-alo") + 1, "tern-alo-tuned")
    unknown = [v for v in a.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    a.tern_settings = json.loads(a.tern_settings)
    a.mm2_settings = json.loads(a.mm2_settings)
    a.tuned = json.loads(a.tuned) if a.tuned else None
    tuned = [v for v in a.variants if v.endswith("-tuned")]
    if tuned and a.tuned is None:
        p.error(f"{', '.join(tuned)} needs --tuned JSON")
    if a.tuned is not None and not tuned:
        p.error("--tuned applies to tern-eos-tuned and tern-alo-tuned; --variants names neither")
    a.link_bytes_s = a.wan_mbit * 1e6 / 8
    return a


def log(line: str) -> None:
    rs.log(line)


# ---------------------------------------------------------------- one replicator, one scenario

class Env:
    """What every run shares: the clusters, the proxy, the options."""

    def __init__(self, args, workdir: Path, source, target, proxy, proxy_address, binary):
        self.args, self.workdir = args, workdir
        self.source, self.target = source, target
        self.proxy, self.proxy_address = proxy, proxy_address
        self.binary = binary

    def wire_bytes(self) -> int:
        """Bytes the wan proxy has delivered to the replicator so far (open connections)."""
        return rs.Toxiproxy.bytes_to_clients(int(self.proxy_address.rsplit(":", 1)[1]))


def topics_of(scenario: str, variant: str) -> tuple[str, str]:
    return f"{scenario}-{variant}-tput", f"{scenario}-{variant}-lat"


def make_replicator(env: Env, scenario: str, variant: str) -> rs.Replicator:
    src = env.proxy_address if scenario == "wan" else env.source.bootstrap
    tgt = env.target.bootstrap
    topics = list(topics_of(scenario, variant))
    wd = env.workdir / "runs" / f"{scenario}-{variant}"
    # A --workdir used before still holds that run's replicator state, which would resume
    # from where the old clusters were.
    shutil.rmtree(wd, ignore_errors=True)
    if variant.startswith("tern-"):
        settings = dict(env.args.tern_settings)
        if variant.endswith("-tuned"):
            settings = merged(settings, env.args.tuned)
        return rs.Tern(wd, src, tgt, topics, env.binary,
                       "at-least-once" if variant.startswith("tern-alo") else "exactly-once",
                       f"tern-bench-{scenario}-{variant}", settings)
    if variant in (MM2, MM2_EOS):
        # Its own source alias: MM2 names its Connect topics and group after it.
        alias = ("src" if scenario == "local" else "srcwan") + ("eos" if variant == MM2_EOS else "")
        return rs.MirrorMaker(wd, src, tgt, topics, alias, env.args.mm2_settings,
                              exactly_once=variant == MM2_EOS)
    return rs.KcatPipe(wd, src, tgt, topics)


def bucket_quantiles(cumulative: dict[float, float]) -> dict:
    """p50/p99 bounds (the upper edge of the bucket each falls in, ms) from a cumulative
    histogram."""
    total = cumulative.get(float("inf"), max(cumulative.values(), default=0))
    out = {"count": total}
    for q, key in ((0.5, "p50_le_ms"), (0.99, "p99_le_ms")):
        for le in sorted(cumulative):
            if total and cumulative[le] >= q * total:
                out[key] = le * 1000
                break
    return out


def merged(base: dict, over: dict) -> dict:
    """`over` on top of `base`, one level deep (as the replicator's config sections nest)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_one(env: Env, scenario: str, variant: str, records: int,
            latency_seconds: float | None = None) -> dict:
    """Throughput of the preloaded topic, then latency at a fixed rate, with the replicator's
    memory and CPU; then the target topic is read back whole."""
    args = env.args
    latency_seconds = latency_seconds or args.latency_seconds
    tput, lat = topics_of(scenario, variant)
    rep = make_replicator(env, scenario, variant)
    rep.setup_target()
    adm = rs.admin(env.target.bootstrap)
    wan = scenario == "wan"
    timeout = args.timeout
    if wan:
        timeout = max(timeout, 3 * records * RECORD_SIZE / args.link_bytes_s + 60)
    startup_timeout = args.startup_timeout
    res: dict = {"name": rep.name, "settings": rep.settings(), "counts": rep.counts,
                 "target_topic": rep.target_topic(tput), "load1": os.getloadavg()[0],
                 "records": records}
    sampler = rs.Sampler(rep)
    t0 = time.monotonic()
    rep.start()
    sampler.start()
    # Snapshots {t: seconds since start, n: records on the target, wire: bytes the wan proxy
    # delivered, cpu: the replicator's CPU seconds} at the last poll that saw no record, the
    # first that saw some, and the one that saw all (or the last one).
    zero, first, done = {"t": 0.0, "n": 0, "wire": 0, "cpu": 0.0}, None, None
    # wan: the last poll before the records began to cross the link (the proxy had delivered
    # less than WIRE_IDLE bytes). A replicator may fetch well before it can write (its target
    # side still starting), so on a slow link the copying starts there, not at the first
    # record on the target.
    wire_zero = zero
    settled = None  # rep.settles: the first poll that saw the count it has now, once >= N
    count = 0
    written_seen = False
    try:
        while True:
            time.sleep(POLL_S)
            now = time.monotonic() - t0
            if not rep.running():
                res["error"] = f"exited during the throughput phase; see {rep.log_path()}"
                break
            try:
                count = rep.counter(adm, tput)
                # Exactly-once records count once committed, but the copying starts with the
                # first record written: the window opens at the last poll that saw nothing
                # written at all.
                written_seen = written_seen or count > 0 or rep.written(adm, tput) > 0
            except Exception as e:  # a coordinator still loading, a topic not created yet
                res["last_poll_error"] = str(e)[:200]
                continue
            wire = env.wire_bytes() if wan else 0
            if first is None or (wan and wire < WIRE_IDLE):
                sampler.sample()
            snap = {"t": now, "n": count, "wire": wire, "cpu": sampler.cpu_total}
            if wan and wire < WIRE_IDLE:
                wire_zero = snap
            if first is None:
                if count == 0:
                    if not written_seen:
                        zero = snap
                    if now > startup_timeout:
                        res["error"] = f"no record copied within {startup_timeout:.0f} s"
                        break
                    continue
                first = snap
            if count >= records and rep.settles:
                if settled is None or count != settled["n"]:
                    settled = snap
                elif now - settled["t"] >= SETTLE_S:
                    done = dict(settled, n=records)
                    break
            elif count >= records:
                done = snap
                break
            if now - first["t"] > timeout:
                done = snap
                res["error"] = (f"timed out {timeout:.0f} s after the first record, with "
                                f"{count} of {records}")
                break
        sampler.sample()
        res["cpu_s_throughput"] = sampler.cpu_total
        if isinstance(rep, rs.Tern):
            m = rep.metrics()
            res["commits_throughput"] = m.get("tern_replicator_commits_total")
        if first and done:
            # From the last poll that saw nothing to the one that saw all: the copying time,
            # at most one poll interval too long, without the replicator's start-up.
            if wan and wire_zero["t"] < zero["t"]:
                zero = wire_zero
            window = done["t"] - zero["t"]
            res["first_s"], res["done_s"] = first["t"], done["t"]
            res["copied"] = done["n"]
            res["records_per_s"] = (done["n"] - zero["n"]) / window
            res["mib_per_s"] = res["records_per_s"] * RECORD_SIZE / 2**20
            res["cpu_s_copying"] = sampler.cpu_total - zero["cpu"]
            # Only open connections are counted: a pipe that has ended (kcat -e) has none.
            if wan and done["wire"] > zero["wire"]:
                res["wire_bytes_per_s"] = (done["wire"] - zero["wire"]) / window
        log(f"  {scenario:5} {variant:8} throughput {summary_tput(res)}")
        if rep.running():
            hist0 = {}
            if isinstance(rep, rs.Tern):
                time.sleep(1)  # delivery reports of the throughput phase are observed first
                hist0 = rep.latency_buckets()
            lr = rs.run_latency(env.source.bootstrap, env.target.bootstrap, lat,
                                rep.target_topic(lat), args.rate, latency_seconds,
                                args.warmup_seconds, rep.workdir, ISOLATIONS)
            res["latency"] = lr
            if isinstance(rep, rs.Tern):
                m = rep.metrics()
                res["metrics_end"] = {k: v for k, v in m.items()
                                      if k.startswith("tern_replicator_") and "_bucket" not in k}
                hist1 = rep.latency_buckets()
                res["own_latency"] = bucket_quantiles(
                    {le: hist1[le] - hist0.get(le, 0.0) for le in hist1})
            log(f"  {scenario:5} {variant:8} latency    {summary_lat(lr)}")
    finally:
        sampler.stop()
        res["cpu_s_total"] = sampler.cpu_total
        res["peak_rss_mib"] = sampler.peak_rss_kib / 1024
        res["hwm_mib"] = sampler.hwm_total_kib / 1024
        res["processes"] = len(sampler.hwm_kib)
        rep.stop()
    if not args.no_verify:
        res["verify"] = rs.read_back(env.target.bootstrap, rep.target_topic(tput))
        log(f"  {scenario:5} {variant:8} read back  {res['verify']}")
    res["log"] = str(rep.log_path())
    return res


def summary_tput(r: dict) -> str:
    if "records_per_s" not in r:
        return "ERROR " + r.get("error", "no records copied")
    text = (f"{r['records_per_s']:9.0f} rec/s {r['mib_per_s']:6.1f} MiB/s, first after "
            f"{r['first_s']:.1f} s, all after {r['done_s']:.1f} s, cpu {r['cpu_s_throughput']:.1f} s")
    return text + (f" ({r['error']})" if "error" in r else "")


def summary_lat(lr: dict) -> str:
    parts = []
    for iso in ISOLATIONS:
        r = lr.get(iso, {})
        if "p50_ms" in r:
            parts.append(f"{iso}: p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms "
                         f"({r['received']}/{lr['producer'].get('sent', '?')})")
        else:
            parts.append(f"{iso}: {r.get('error', '?')}")
    return "; ".join(parts)


# ---------------------------------------------------------------- report

def fmt(v, digits=1) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def lat_of(r: dict | None, iso: str, key: str):
    if not r:
        return None
    x = r.get("latency", {}).get(iso, {})
    v = x.get(key)
    return None if v is None or v != v else v  # NaN: nothing measured


def machine() -> list[str]:
    mem_kib = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                       if ln.startswith("MemTotal")).split()[1])
    cpu = next((ln.split(":", 1)[1].strip() for ln in
                Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")),
               platform.processor())
    return [f"- machine: {os.cpu_count()} CPUs ({cpu}), {mem_kib / 2**20:.1f} GiB memory, "
            f"kernel {platform.release()}; shared with other work while this ran (see the "
            f"load averages), so absolute numbers are noisy: the ratios within this run are "
            f"the signal"]


def versions(env: Env) -> list[str]:
    commit = subprocess.run(["git", "-C", str(rs.ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    kcat = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    kcat = next((ln.strip() for ln in kcat.splitlines() if ln.startswith("Version")), "?")
    out = [f"- tern-replicator: {rs.tern_version(env.binary) or '?'} "
           f"({env.args.tern_replicator}; tree {commit}); librdkafka "
           f"{rs.bs.rdkafka_version()} (Debian package)",
           "- Apache Kafka 4.4.0 (both clusters); MirrorMaker 2 from scripts/versions.env "
           "(connect-mirror-maker, dedicated mode)",
           f"- kcat: {kcat.split(' (')[0]} (Debian package)",
           f"- Java: {java.splitlines()[0] if java else '?'}"]
    if env.proxy is not None:
        out.append(f"- toxiproxy: {env.proxy.version()} (bench/setup_toxiproxy.sh)")
    return out


def tput_table(args, scenario: str, res: dict) -> list[str]:
    wan = scenario == "wan"
    records = args.wan_records if wan else args.records
    head = ("| replicator | records/s | MiB/s | ÷ MM2 | ÷ kcat | first record, s | "
            "all records, s | CPU s, start to end | CPU s per GiB copied |")
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if wan:
        head += " payload ÷ link | wire ÷ link |"
        sep += "---:|---:|"
    if not args.no_verify:
        head += " read back (distinct) |"
        sep += "---|"
    out = [head, sep]
    m = res.get(MM2, {}).get("records_per_s")
    k = res.get("kcat", {}).get("records_per_s")
    for v in args.variants:
        r = res.get(v)
        if r is None:
            continue
        rps = r.get("records_per_s")
        gib = r.get("copied", 0) * RECORD_SIZE / 2**30
        row = (f"| {VARIANTS[v]} | {fmt(rps, 0)} | {fmt(r.get('mib_per_s'))} | "
               f"{ratio(rps, m)} | {ratio(rps, k)} | {fmt(r.get('first_s'))} | "
               f"{fmt(r.get('done_s'))} | {fmt(r.get('cpu_s_throughput'))} | "
               f"{fmt(r['cpu_s_copying'] / gib if gib and 'cpu_s_copying' in r else None)} |")
        if wan:
            payload = rps * RECORD_SIZE / args.link_bytes_s if rps else None
            wire = r.get("wire_bytes_per_s")
            row += (f" {fmt(payload * 100 if payload else None, 0)}% | "
                    f"{fmt(wire / args.link_bytes_s * 100 if wire else None, 0)}% |")
        if not args.no_verify:
            ver = r.get("verify", {})
            row += (f" {ver.get('records', '—')} ({ver.get('distinct', '—')})"
                    f"{'' if ver.get('records') == records == ver.get('distinct') else ' ≠ ' + str(records)} |")
        out.append(row)
    notes = [f"- {VARIANTS[v]}: {res[v]['error']}" for v in args.variants
             if v in res and "error" in res[v]]
    for v in ("tern-eos", "tern-eos-tuned"):
        r = res.get(v, {})
        if not (r.get("commits_throughput") and r.get("records_per_s")):
            continue
        copying = r["copied"] / r["records_per_s"]
        commits = r["commits_throughput"]
        interval = json.loads(r["settings"]).get("commit_interval_ms", 1000)
        notes.append(f"- {VARIANTS[v]} committed {commits:.0f} transactions by the end of "
                     f"the throughput phase: {r['copied'] / commits:,.0f} records per "
                     f"transaction, one per {copying / commits * 1000:,.0f} ms of copying "
                     f"(commit_interval_ms {interval})")
    return out + [""] + (notes + [""] if notes else [])


def lat_table(args, res: dict) -> list[str]:
    out = ["| replicator | received / sent | p50 ms | p99 ms | p99.9 ms | max ms | "
           "p50 ÷ MM2 | p99 ÷ MM2 | read_uncommitted p50 ms | read_uncommitted p99 ms | "
           "source ack p50 / p99 ms | stalled on CPU / I/O |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rc, ru = ISOLATIONS
    m50, m99 = lat_of(res.get(MM2), rc, "p50_ms"), lat_of(res.get(MM2), rc, "p99_ms")
    for v in args.variants:
        r = res.get(v)
        if r is None or "latency" not in r:
            continue
        lr = r["latency"]
        p50, p99 = lat_of(r, rc, "p50_ms"), lat_of(r, rc, "p99_ms")
        out.append(f"| {VARIANTS[v]} | {lr.get(rc, {}).get('received', '—')} / "
                   f"{lr['producer'].get('sent', '—')} | {fmt(p50)} | {fmt(p99)} | "
                   f"{fmt(lat_of(r, rc, 'p999_ms'))} | {fmt(lat_of(r, rc, 'max_ms'))} | "
                   f"{ratio(p50, m50)} | {ratio(p99, m99)} | {fmt(lat_of(r, ru, 'p50_ms'))} | "
                   f"{fmt(lat_of(r, ru, 'p99_ms'))} | {fmt(lat_of(r, 'producer', 'ack_p50_ms'))}"
                   f" / {fmt(lat_of(r, 'producer', 'ack_p99_ms'))} | {stalls(lr)} |")
    return out + [""]


def stalls(lr: dict) -> str:
    s = lr.get("stalls") or {}
    if not s:
        return "—"
    return f"{s['cpu']:.0%} / {s['io']:.0%}"


def own_latency_notes(args, res: dict) -> list[str]:
    out = []
    for v in args.variants:
        o = res.get(v, {}).get("own_latency")
        if o and o.get("count") and "p50_le_ms" in o:
            out.append(f"- {VARIANTS[v]}, its own histogram over the latency phase "
                       f"(target acknowledgement minus the record's timestamp, "
                       f"{o['count']:.0f} records): p50 ≤ {o['p50_le_ms']:g} ms, "
                       f"p99 ≤ {o.get('p99_le_ms', float('nan')):g} ms")
    return out + ([""] if out else [])


def memory_table(args, res: dict) -> list[str]:
    out = ["| replicator | scenario | peak RSS (VmHWM), MiB | ÷ MM2 | peak sampled RSS, MiB | "
           "CPU s, whole run | processes |", "|---|---|---:|---:|---:|---:|---:|"]
    for scenario in args.scenarios:
        sres = res.get(scenario, {})
        m = sres.get(MM2, {}).get("hwm_mib")
        for v in args.variants:
            r = sres.get(v)
            if r is None:
                continue
            out.append(f"| {VARIANTS[v]} | {scenario} | {fmt(r.get('hwm_mib'))} | "
                       f"{ratio(r.get('hwm_mib'), m)} | {fmt(r.get('peak_rss_mib'))} | "
                       f"{fmt(r.get('cpu_s_total'))} | {r.get('processes')} |")
    return out + [""]


def headline(args, res: dict) -> list[str]:
    """Every variant against MM2 as it runs by default (at-least-once); then, with MM2
    exactly-once in the run, the exactly-once variants against it: like for like."""
    terns = [v for v in ("tern-eos", "tern-eos-tuned", "tern-alo", "tern-alo-tuned", MM2_EOS,
                         "kcat") if v in args.variants]
    out = ratio_table(args, res, MM2, terns)
    eos = [v for v in ("tern-eos", "tern-eos-tuned") if v in args.variants]
    like = ratio_table(args, res, MM2_EOS, eos)
    if like:
        out += ["Exactly-once against exactly-once (records visible to read_committed readers "
                "only once their transaction commits, on both sides):", ""] + like
    return out


def ratio_table(args, res: dict, base: str, columns: list[str]) -> list[str]:
    if base not in args.variants or not columns:
        return []
    short = "MM2" if base == MM2 else "MM2 exactly-once"
    out = ["| metric | " + " | ".join(f"{VARIANTS[v]} ÷ {short}" for v in columns) + " |",
           "|---|" + "---:|" * len(columns)]
    rows = []
    for scenario in args.scenarios:
        s = res.get(scenario, {})
        rows.append((f"{scenario}: throughput, records/s (higher is better)",
                     lambda r: r.get("records_per_s"), s))
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            rows.append((f"{scenario}: latency {label}, read_committed (lower is better)",
                         lambda r, key=key: lat_of(r, "read_committed", key), s))
        rows.append((f"{scenario}: peak RSS (lower is better)", lambda r: r.get("hwm_mib"), s))
    for label, get, s in rows:
        m = s.get(base)
        cells = [ratio(get(s[v]) if v in s else None, get(m) if m else None) for v in columns]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out + [""]


def report(args, env: Env, res: dict, loads: list[str], started, seconds: float,
           preload_s: dict) -> str:
    cmd = "~/.cache/tern/venv/bin/python bench/replicator_bench.py " + shlex.join(sys.argv[1:])
    if os.environ.get("TERN_BUILD"):
        cmd = f"TERN_BUILD={os.environ['TERN_BUILD']} " + cmd
    out = [f"# tern-replicator vs MirrorMaker 2 vs kcat pipe — {started:%Y-%m-%d %H:%M}", "",
           f"Command: `{cmd.strip()}` ({seconds / 60:.1f} min)", ""]
    out += machine() + versions(env)
    out += [f"- load averages: {' → '.join(loads)}",
            f"- workload: {RECORD_SIZE}-byte values (sequence number, produce time, random "
            f"letters; no key, no newline), topics of {PARTITIONS} partitions with 1 replica; "
            f"throughput: {args.records} records (local) / {args.wan_records} (wan) preloaded "
            f"per replicator before any replicator starts (preloading took "
            + ", ".join(f"{k} {v:.0f} s" for k, v in preload_s.items())
            + f"); latency: {args.rate:g} records/s for {args.latency_seconds:g} s, the first "
            f"{args.warmup_seconds:g} s left out",
            "- one source and one target cluster (Kafka 4.4, single node, KRaft, 1 GiB heap) "
            "for every replicator, in turn; each replicator has its own topics; clusters, "
            "replicator and clients share the machine's CPUs. Before the measured runs, one "
            "transaction and one group commit on each cluster load their coordinators, and a "
            f"warm-up round (a kcat pipe, {min(args.records, WARMUP_RECORDS)} records and a "
            "latency phase, not reported) runs both JVMs' produce and fetch paths once",
            f"- wan: toxiproxy between the replicators and the source cluster (a second source "
            f"listener advertises the proxy's address): +{args.wan_latency_ms} ms each way "
            f"(RTT +{2 * args.wan_latency_ms} ms) and a {args.wan_mbit:g} Mbit/s "
            f"({args.link_bytes_s / 1e6:.2f} MB/s) bandwidth toxic each way; toxiproxy applies "
            f"it per connection, and each replicator fetches over one connection to the one "
            f"broker. Producers and the latency consumers talk to the clusters directly"]
    for v in args.variants:
        r = next((res[s][v] for s in args.scenarios if v in res.get(s, {})), None)
        if r:
            out.append(f"- {VARIANTS[v]}: {r['settings']}; throughput counted from "
                       f"{r['counts']} on the target")
    out += ["", "How it is measured:", "",
            "- throughput: the replicator starts with N records waiting on the source; the "
            "target is polled every 0.1 s. records/s is N divided by the time from the last "
            "poll that saw no record written (for tern exactly-once: not even uncommitted "
            "ones) to the poll that saw all N counted (the copying time, at most one "
            "poll too long; start-up left out: JVM, metadata, topic creation, transactions; "
            "wire ÷ link: bytes the proxy delivered over the replicator's open connections "
            "(tcp_info from ss) in that time, so none for the kcat pipe, whose connection has "
            "closed by then; "
            "on the wan path the time starts instead at the last poll before 256 KiB had "
            "crossed the proxy, if that came first, since a replicator may fetch before it "
            "writes); "
            "'first record' and 'all records' are seconds after the replicator's process "
            "started. CPU s: the replicator's processes from their start to the last poll; "
            "per GiB: only the CPU time of the copying time above, per GiB of values.",
            "- counting on the target: the sum of the target partitions' end offsets, except "
            "for tern exactly-once, where end offsets also count the transaction markers: its "
            "progress group's committed offsets (the next source offset of each partition, "
            "committed in the same transaction as the records) are summed instead; a fresh "
            "source topic starts every partition at 0 with no control records, so that sum is "
            "the number of copied records that read_committed readers can see. MirrorMaker 2 "
            "exactly-once has no such count: its end offsets count its markers too, so its "
            f"copying ends at the poll where they last grew, once they had reached N and then "
            f"stayed for {SETTLE_S:g} s. After each run "
            "the target topic is read back whole (read_committed) and its records and distinct "
            "sequence numbers counted.",
            "- latency: arrival at a consumer on the target minus the wall-clock time the "
            "producer put into the value just before produce() (same machine, same clock): it "
            "includes the source produce, replication and the target fetch. Compared: "
            "read_committed, which for tern exactly-once means after its transaction commits "
            "(at once when it has caught up with the source, else after commit_interval_ms, "
            "default 1000); read_uncommitted shows records as soon as they "
            "are written. For the other replicators the two levels see the same records. "
            "'source ack' is the producer's own produce-to-acknowledgement time on the source "
            "cluster: the part of the latency that is not replication. 'stalled on CPU / "
            "I/O' is the kernel's pressure stall information over the producer's run: the "
            "share of the time some task waited for a CPU, or for I/O (a busy machine: "
            "compare the rows' latencies only where these are alike).",
            "- order: the replicators run in the order listed. On a shared machine the latency "
            "phases that come first after the preload have often met a slower source cluster "
            "(the 'source ack' column shows it): before reading a loopback latency ratio, "
            "compare the source ack times, or repeat with the order reversed (--variants).",
            "- memory: VmHWM of the replicator's processes when it stopped (kcat pipe: the sum "
            "over its kcat processes, two per topic); sampled RSS is the largest sum of VmRSS "
            "seen every 0.25 s.", ""]
    if headline(args, res):
        out += ["## Ratios", ""] + headline(args, res)
    for scenario in args.scenarios:
        s = res.get(scenario, {})
        title = "loopback" if scenario == "local" else (
            f"WAN: +{args.wan_latency_ms} ms each way, {args.wan_mbit:g} Mbit/s")
        out += [f"## Throughput, {title}", ""] + tput_table(args, scenario, s)
        out += [f"## Latency at {args.rate:g} records/s, {title} (read_committed unless "
                f"named)", ""] + lat_table(args, s) + own_latency_notes(args, s)
    out += ["## Memory and CPU", ""] + memory_table(args, res)
    out += ["Logs of this run were in " + (str(args.workdir) if args.workdir
                                             else "a temporary directory, removed") + "."]
    return "\n".join(out)


# ---------------------------------------------------------------- main

def main() -> int:
    args = parse_args()
    # SIGTERM (timeout, kill) ends the run through the finally clauses, which stop every
    # process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.datetime.now()
    t0 = time.monotonic()
    loads = [Path("/proc/loadavg").read_text().split(" ", 3)[:3]]
    tmp = tempfile.TemporaryDirectory(prefix="tern-repl-bench-") if args.workdir is None \
        else None
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    binary = rs.copy_binary(args.tern_replicator, workdir / "bin")
    proxy = proxy_address = None
    source = target = None
    res: dict[str, dict] = {}
    preload_s: dict[str, float] = {}
    try:
        if "wan" in args.scenarios:
            proxy = rs.Toxiproxy(workdir).start()
            proxy_address = f"127.0.0.1:{rs.free_port()}"
        log("== starting the source and target clusters")
        source, target = rs.start_clusters(workdir, proxy_address)
        for cluster in (source, target):
            rs.warm_up(cluster.bootstrap)
        if proxy is not None:
            proxy.proxy("source", proxy_address,
                        f"127.0.0.1:{source.listener_ports['WAN']}")
        env = Env(args, workdir, source, target, proxy, proxy_address, binary)
        # Both JVMs start cold: a warm-up round (a kcat pipe, not reported) runs their
        # produce, fetch and replication paths once, so the first replicator measured does
        # not pay for the JIT.
        warm = min(args.records, WARMUP_RECORDS)
        log(f"== warm-up: {warm} records through a kcat pipe, not reported")
        rs.create_topics(source.bootstrap, list(topics_of("warmup", "kcat")))
        rs.preload(source.bootstrap, topics_of("warmup", "kcat")[0], warm)
        run_one(env, "warmup", "kcat", warm)
        for scenario in args.scenarios:
            records = args.wan_records if scenario == "wan" else args.records
            names = [n for v in args.variants for n in topics_of(scenario, v)]
            rs.create_topics(source.bootstrap, names)
            log(f"== {scenario}: preloading {records} records for each of "
                f"{len(args.variants)} replicators")
            p0 = time.monotonic()
            for v in args.variants:
                rs.preload(source.bootstrap, topics_of(scenario, v)[0], records)
            os.sync()  # the write-back of the preload should not land in a replicator's run
            preload_s[scenario] = time.monotonic() - p0
            if scenario == "wan":
                lat = {"latency": args.wan_latency_ms, "jitter": 0}
                rate = {"rate": int(args.link_bytes_s / 1000)}  # toxiproxy: KB/s
                for stream in ("downstream", "upstream"):
                    proxy.toxic("source", f"latency-{stream}", "latency", stream, lat)
                    proxy.toxic("source", f"bandwidth-{stream}", "bandwidth", stream, rate)
            res[scenario] = {}
            for v in args.variants:
                loads.append(Path("/proc/loadavg").read_text().split(" ", 3)[:3])
                res[scenario][v] = run_one(env, scenario, v, records)
        loads.append(Path("/proc/loadavg").read_text().split(" ", 3)[:3])
        if args.workdir is not None:
            (workdir / "results.json").write_text(json.dumps(res, indent=1, default=str))
        text = report(args, env, res, [" ".join(x) for x in loads], started,
                      time.monotonic() - t0, preload_s)
    finally:
        for peer in (source, target, proxy):
            if peer is not None:
                peer.stop()
        if tmp is not None:
            tmp.cleanup()
    print(text)
    out = args.out or (rs.ROOT / "bench" / "results" /
                       f"{started:%Y-%m-%d}-replicator{'-quick' if args.quick else ''}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
