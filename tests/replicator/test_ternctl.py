"""ternctl against a live tern-replicator (two Apache Kafka nodes, exactly-once, a bearer token
on its gRPC API): every command in table and JSON form, checked against what the clusters
really hold; pause and resume; the errors an operator meets first (wrong token, no server,
a bad pattern); and `watch` on a real terminal (tmux)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from harness import paths
from harness.ports import free_port
from harness.terminal import Terminal
from support import (consume_all, consumer, create_topic, end_offsets, produce, producer,
                     wait_caught_up, wait_until)
from confluent_kafka import TopicPartition

TOKEN = "s3cret-token"
A, B = "ctl-a", "ctl-b"
PER_TOPIC = 300


class Ctl:
    def __init__(self, server: str, token_file):
        self.server, self.token_file = server, token_file

    def run(self, *args, token: bool = True, server: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(paths.program("ternctl")), "--server", server or self.server]
        if token:
            cmd += ["--token-file", str(self.token_file)]
        result = subprocess.run(cmd + list(args), capture_output=True, text=True,
                                timeout=timeout)
        if check:
            assert result.returncode == 0, f"ternctl {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args) -> dict:
        return json.loads(self.run("--output", "json", *args).stdout)


def rows(table: str) -> list[list[str]]:
    """The data rows of a ternctl table, split on runs of two or more spaces."""
    lines = [line for line in table.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


@pytest.fixture(scope="module")
def live(kafka_pair, tmp_path_factory):
    source = kafka_pair.source
    create_topic(source.bootstrap, A, 3)
    create_topic(source.bootstrap, B, 1)
    p = producer(source.bootstrap)
    for topic in (A, B):
        produce(p, topic, ({"value": f"{topic}-{n}", "key": str(n),
                            "partition": n % (3 if topic == A else 1)}
                           for n in range(PER_TOPIC)))
    workdir = tmp_path_factory.mktemp("ternctl")
    token_file = workdir / "token"
    token_file.write_text(TOKEN + "\n")
    address = f"127.0.0.1:{free_port()}"
    r = kafka_pair.replicator(workdir / "replicator", topics={"include": ["ctl-.*"]},
                              groups={"include": ["ctl-.*"]},
                              grpc={"listen": address, "token_file": str(token_file)}).start()
    wait_caught_up(r, {A: A, B: B})
    ctl = Ctl(address, token_file)
    yield kafka_pair, r, ctl
    r.stop()


def test_status_shows_running_reachable_clusters_and_totals(live):
    _, _, ctl = live
    wait_until(lambda: ctl.json("status")["totals"]["records_replicated"] ==
               str(2 * PER_TOPIC), 60, "the status counting every record")
    status = ctl.json("status")
    assert status["state"] == "REPLICATOR_STATE_RUNNING"
    assert status["delivery"] == "DELIVERY_MODE_EXACTLY_ONCE"
    assert status["source"]["reachable"] and status["target"]["reachable"]
    flows = {f["source_topic"]: f for f in status["flows"]}
    assert flows[A]["partitions"] == 3 and flows[B]["partitions"] == 1
    assert flows[A]["state"] == "FLOW_STATE_COPYING"

    table = ctl.run("status").stdout
    assert "RUNNING" in table and "EXACTLY_ONCE" in table
    assert "source  src" in table and "target  dst" in table and "UNREACHABLE" not in table
    assert f"replicated {2 * PER_TOPIC} records" in table
    topic_rows = {row[0]: row for row in rows(table.split("\n\n")[-1])}
    assert topic_rows[A][1:4] == [A, "3", "COPYING"]


def test_partitions_match_the_source_ends(live):
    pair, _, ctl = live
    ends = end_offsets(pair.source.bootstrap, A)
    listed = ctl.json("partitions", "--topic", A)["partitions"]
    assert {p["partition"]: int(p["replicated_offset"]) for p in listed} == ends
    assert all(p["lag_records"] == "0" for p in listed)
    table = rows(ctl.run("partitions", "--topic", "ctl-.*", "--sort", "lag").stdout)
    assert {(r[0], int(r[1])) for r in table} == {(A, 0), (A, 1), (A, 2), (B, 0)}
    for r in table:
        assert r[3] == r[4], f"source end and replicated differ in {r}"


def test_watch_streams_updates_while_records_flow(live):
    pair, _, ctl = live
    p = producer(pair.source.bootstrap)
    extra = 200
    proc = subprocess.Popen(
        [str(paths.program("ternctl")), "--server", ctl.server, "--token-file",
         str(ctl.token_file), "--output", "json", "watch", "--interval-ms", "300", "--count",
         "12", "--topic", A], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    produce(p, A, ({"value": f"watch-{n}", "partition": n % 3} for n in range(extra)))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    updates = [json.loads(line) for line in out.splitlines()]
    assert len(updates) == 12
    counts = [int(u["totals"]["records_replicated"]) for u in updates]
    assert counts == sorted(counts) and counts[-1] > counts[0], counts
    assert all({p["source_topic"] for p in u["partitions"]} == {A} for u in updates)

    lines = ctl.run("watch", "--interval-ms", "200", "--count", "2").stdout.splitlines()
    assert len(lines) == 2 and all("replicated" in line and "lag" in line for line in lines)


def test_translate_a_position_points_at_the_same_record_on_the_target(live):
    pair, _, ctl = live
    source = consume_all(pair.source.bootstrap, A, [1])[1]
    record = source[40]
    result = ctl.json("translate", "--topic", A, "--partition", "1", "--offset",
                      str(record.offset))["translations"]
    assert len(result) == 1 and result[0]["target_topic"] == A
    target_offset = int(result[0]["target_offset"])
    target = {r.offset: r for r in consume_all(pair.target.bootstrap, A, [1])[1]}
    assert target[target_offset].value == record.value

    table = rows(ctl.run("translate", "--topic", A, "--partition", "1", "--offset",
                         str(record.offset)).stdout)
    assert table == [[A, "1", str(record.offset), A, str(target_offset)]]


def test_groups_and_translate_group(live):
    pair, _, ctl = live
    group = "ctl-readers"
    c = consumer(pair.source.bootstrap, **{"group.id": group})
    try:
        c.commit(offsets=[TopicPartition(A, p, 50) for p in range(3)], asynchronous=False)
    finally:
        c.close()

    def synced():
        groups = ctl.json("groups", "--group", group).get("groups", [])
        return groups and len(groups[0].get("offsets", [])) == 3 and groups[0]
    g = wait_until(synced, 60, "the group synced")
    assert all(o["source_offset"] == "50" and int(o["target_offset"]) >= 50
               for o in g["offsets"])
    translated = ctl.json("translate", "--group", group)["translations"]
    assert sorted((t["partition"], t["target_offset"]) for t in translated) == \
        sorted((o["partition"], o["target_offset"]) for o in g["offsets"])
    table = rows(ctl.run("groups").stdout)
    assert any(r[0] == group and r[1] == A for r in table)


def test_pause_stops_a_topic_and_resume_brings_it_up_to_date(live):
    pair, r, ctl = live
    out = ctl.run("pause", "ctl-b").stdout
    assert out.strip() == f"paused {B}"
    wait_until(lambda: all(p["state"] == "FLOW_STATE_PAUSED"
                           for p in ctl.json("partitions", "--topic", B)["partitions"]),
               30, "ctl-b paused")
    before = end_offsets(pair.target.bootstrap, B)
    p = producer(pair.source.bootstrap)
    produce(p, B, ({"value": f"paused-{n}", "partition": 0} for n in range(50)))
    time.sleep(3)  # several commit intervals: nothing may cross meanwhile
    assert end_offsets(pair.target.bootstrap, B) == before
    listed = ctl.json("partitions", "--topic", B)["partitions"]
    assert listed[0]["state"] == "FLOW_STATE_PAUSED"

    assert ctl.run("resume", "ctl-.*").stdout.strip() == f"resumed {B}"
    wait_caught_up(r, {B: B})
    values = [rec.value for rec in consume_all(pair.target.bootstrap, B, [0])[0]]
    assert values[-50:] == [f"paused-{n}".encode() for n in range(50)]
    assert ctl.run("resume", "nothing-.*").stdout.strip() == "no topic matched; nothing resumed"


def test_errors_say_what_to_do(live, tmp_path):
    _, _, ctl = live
    no_token = ctl.run("status", token=False, check=False)
    assert no_token.returncode == 1
    assert "refused" in no_token.stderr and "--token-file" in no_token.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token")
    refused = subprocess.run([str(paths.program("ternctl")), "--server", ctl.server,
                              "--token-file", str(wrong), "status"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "refused" in refused.stderr

    gone = ctl.run("status", server=f"127.0.0.1:{free_port()}", check=False)
    assert gone.returncode == 1 and "cannot reach tern-replicator" in gone.stderr

    bad = ctl.run("partitions", "--topic", "(", check=False)
    assert bad.returncode == 1 and "(" in bad.stderr
    assert ctl.run("translate", check=False).returncode == 2


# --- watch on a real terminal -----------------------------------------------------------------

TTY_TOPIC = "tty-backlog"  # outside "ctl-.*": the shared replicator leaves it alone
TTY_RECORDS = 300
# One row of watch's screen: topic, partition, progress bar, replicated, source end, lag,
# rate, ETA, state.
ROW = re.compile(rf"^{TTY_TOPIC}\s+0\s+\[([#.]{{20}})\]\s+(\d+)%\s+(\S+)\s+(\S+)\s+(\S+)\s+"
                 r"(\S+)\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)
DURATION = re.compile(r"^\d+(s|m\d\ds|h\d\dm)$")


def test_watch_on_a_terminal_draws_progress_bars_and_an_eta(live, tmp_path):
    """The initial sync of a backlog by a second replicator, slowed down by a fetch quota at
    the source (a cluster setting, so the replicator copies at its ordinary pace otherwise),
    watched with `ternctl watch` in a tmux pane: the screen shows the partition's progress bar
    part-filled with an ETA in time while records wait; once the quota is lifted, the bar is
    full, the ETA 'done', and the numbers are those the clusters hold."""
    pair, _, _ = live
    source = pair.source
    create_topic(source.bootstrap, TTY_TOPIC, 1)
    # Batches of a record or two, so that the quota lets the copy go on a little at a time.
    produce(producer(source.bootstrap, batch_size=2000), TTY_TOPIC,
            ({"value": b"%04d" % n + b"x" * 996, "partition": 0} for n in range(TTY_RECORDS)))
    alias = "tty"
    # 2 kB/s and small fetches: after a first burst, the 300 kB backlog would take minutes.
    quota = ["--bootstrap-server", source.bootstrap, "--alter", "--entity-type", "clients",
             "--entity-name", f"tern-replicator.{alias}"]
    source.tool("kafka-configs", *quota, "--add-config", "consumer_byte_rate=2000")
    quota_set = True
    address = f"127.0.0.1:{free_port()}"
    r = pair.replicator(tmp_path / "replicator", topics={"include": [TTY_TOPIC]},
                        groups={"include": ["nothing-matches"]},
                        source={"alias": alias, "max.partition.fetch.bytes": "20000"},
                        grpc={"listen": address})
    terminal = None
    try:
        r.start()
        r.wait_for_log(f"gRPC API on {address}")
        terminal = Terminal([paths.program("ternctl"), "--server", address, "watch",
                             "--interval-ms", "300", "--topic", TTY_TOPIC])

        def row_when(ready, timeout: float, what: str):
            """Polls the screen until its row of TTY_TOPIC is `ready`; fails showing it."""
            last = [""]

            def check():
                last[0] = terminal.screen()
                match = ROW.search(last[0])
                return (match, last[0]) if match and ready(match) else None
            try:
                return wait_until(check, timeout, what, alive=[r])
            except AssertionError as e:
                raise AssertionError(f"{e}\nlast screen:\n{last[0]}") from None

        def copying(m) -> bool:
            percent, lag, eta, state = int(m.group(2)), m.group(5), m.group(7), m.group(8)
            return 0 < percent < 100 and lag != "-" and int(lag) > 0 and \
                DURATION.match(eta) is not None and state == "COPYING"

        match, screen = row_when(copying, 90, "a part-filled bar with an ETA in time")
        bar, percent = match.group(1), int(match.group(2))
        filled = len(bar) - len(bar.lstrip("#"))
        assert bar == "#" * filled + "." * (20 - filled) and abs(filled - percent / 5) <= 1, screen
        lines = screen.splitlines()
        assert "RUNNING" in lines[0] and "ETA" in lines[0], screen
        assert re.match(r"^TOPIC\s+PARTITION\s+PROGRESS\s+REPLICATED\s+SOURCE_END\s+LAG\s+"
                        r"RATE/S\s+ETA\s+STATE\s*$", lines[2]), screen
        assert "Ctrl-C to stop" in screen

        source.tool("kafka-configs", *quota, "--delete-config", "consumer_byte_rate")
        quota_set = False
        match, screen = row_when(lambda m: m.group(7) == "done", 120, "the backlog copied")
        assert match.group(1) == "#" * 20 and match.group(2) == "100", screen
        assert match.group(3) == match.group(4) == str(TTY_RECORDS), screen
        assert match.group(5) == "0", screen
    finally:
        if terminal is not None:
            terminal.close()
        r.stop()
        if quota_set:
            source.tool("kafka-configs", *quota, "--delete-config", "consumer_byte_rate")
    assert len(consume_all(pair.target.bootstrap, TTY_TOPIC)[0]) == TTY_RECORDS
