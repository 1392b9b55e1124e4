"""tern-replicator's Prometheus exposition: scraped from a live replicator and checked against
what was really produced, and against `promtool check metrics`."""

from __future__ import annotations

import re
import socket
import subprocess
import urllib.request

import pytest

from harness.ports import free_port
from harness.replicator import TernReplicator
from support import create_topic, producer, wait_until

RECORDS = 5000


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text: str, name: str, labels: str = "") -> float | None:
    """The value of one series, e.g. sample(text, "x_total") or sample(text, "lag", 'topic="t"')."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?")
    match = re.search(r"^" + pattern + r" (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.fixture(scope="module")
def replicated(kafka_pair, tmp_path_factory):
    """RECORDS records in topic "metered" (2 partitions), replicated with metrics on."""
    create_topic(kafka_pair.source.bootstrap, "metered", partitions=2)
    p = producer(kafka_pair.source.bootstrap)
    for i in range(RECORDS):
        p.produce("metered", key=str(i).encode(), value=b"v" * 100, partition=i % 2)
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    port = free_port()
    r = TernReplicator(tmp_path_factory.mktemp("replicator"),
                       ("src", kafka_pair.source.bootstrap), ("dst", kafka_pair.target.bootstrap),
                       extra={"topics": {"include": ["metered"]},
                              "metrics": {"listen": f"127.0.0.1:{port}", "partition_lag": True,
                                          "partition_lag_limit": 1}})
    r.start()
    wait_until(lambda: sample(scrape(port), "tern_replicator_records_replicated_total") == RECORDS,
               90, f"{RECORDS} records counted as replicated", alive=[r])
    yield r, port
    r.stop()


def test_counters_match_what_was_produced(replicated):
    r, port = replicated
    def caught_up() -> str | None:
        text = scrape(port)
        done = (sample(text, "tern_replicator_lag_records", 'topic="metered"') == 0
                and (sample(text, "tern_replicator_commits_total") or 0) >= 1)
        return text if done else None

    text = wait_until(caught_up, 30, "lag of topic metered to reach 0 after a commit",
                      alive=[r])
    assert sample(text, "tern_replicator_records_replicated_total") == RECORDS
    # Keys are 1-4 bytes, values 100: the byte counter is exact.
    key_bytes = sum(len(str(i)) for i in range(RECORDS))
    assert sample(text, "tern_replicator_bytes_replicated_total") == RECORDS * 100 + key_bytes
    assert sample(text, "tern_replicator_replication_latency_seconds_count") == RECORDS
    assert sample(text, "tern_replicator_partitions", 'topic="metered"') == 2
    assert sample(text, "tern_replicator_copying") == 1
    assert sample(text, "tern_replicator_source_records_lost_total") == 0
    assert sample(text, "tern_replicator_target_resets_total") == 0
    assert sample(text, "tern_replicator_commits_total") >= 1
    # Every commit is timed, and each one that wrote progress timed its state-dir write.
    commits = sample(text, "tern_replicator_commits_total")
    assert sample(text, "tern_replicator_commit_duration_seconds_count") == commits
    assert sample(text, "tern_replicator_commit_duration_seconds_bucket", 'le="+Inf"') == commits
    assert sample(text, "tern_replicator_commit_duration_seconds_sum") > 0
    writes = sample(text, "tern_replicator_store_write_duration_seconds_count")
    assert 1 <= writes <= commits
    assert sample(text, "tern_replicator_store_write_duration_seconds_sum") > 0
    assert re.search(r'^tern_replicator_build_info\{version="[^"]+"\} 1$', text, re.MULTILINE)
    for cluster in ("source", "target"):
        assert sample(text, "tern_replicator_cluster_reachable", f'cluster="{cluster}"') == 1
        assert sample(text, "tern_replicator_throttle_seconds_total",
                      f'cluster="{cluster}"') == 0
    for kind in ("copy_restart", "discovery", "group_sync", "offset_sync", "heartbeat"):
        assert sample(text, "tern_replicator_errors_total", f'kind="{kind}"') == 0


def test_partition_lag_is_capped_at_the_limit(replicated):
    """metrics.partition_lag with a limit of 1 of the 2 partitions: one series, one omitted
    (equal lag: the first partition by name wins)."""
    r, port = replicated

    def known() -> str | None:
        text = scrape(port)
        return text if sample(text, "tern_replicator_lag_records", 'topic="metered"') == 0 \
            else None

    text = wait_until(known, 30, "the lag of topic metered known and 0", alive=[r])
    series = re.findall(r'^tern_replicator_partition_lag_records\{(.*)\} (\S+)$', text,
                        re.MULTILINE)
    assert len(series) == 1, series
    assert sample(text, "tern_replicator_partition_lag_records",
                  'topic="metered",partition="0"') == 0
    assert sample(text, "tern_replicator_partition_lag_omitted") == 1


def test_exposition_passes_promtool(replicated):
    _, port = replicated
    result = subprocess.run(["promtool", "check", "metrics"], input=scrape(port),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_metrics_port_in_use_is_a_clear_error(kafka_pair, tmp_path):
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        r = TernReplicator(tmp_path, ("src", kafka_pair.source.bootstrap),
                           ("dst", kafka_pair.target.bootstrap),
                           extra={"metrics": {"listen": f"127.0.0.1:{port}"}})
        r.start()
        wait_until(lambda: not r.running(), 30, "tern-replicator to exit")
        assert r.process.proc.returncode == 1
        assert f"cannot serve metrics on 127.0.0.1:{port}" in r.log_text()


def test_offset_syncs_the_source_refuses_are_counted(kafka_pair, tmp_path):
    """offset_syncs.location: source, and the offset-syncs topic there (created beforehand,
    which the replicator keeps) refuses every record (max.message.bytes 1): the records are
    still replicated, and the failed offset-syncs writes are counted, in
    tern_replicator_offset_sync_failures_total and errors_total{kind="offset_sync"}."""
    source = kafka_pair.source.bootstrap
    topic, target_alias = "unsynced", "dst-refused"
    create_topic(source, f"mm2-offset-syncs.{target_alias}.internal",
                 config={"cleanup.policy": "compact", "max.message.bytes": "1"})
    create_topic(source, topic)
    p = producer(source)
    for i in range(100):
        p.produce(topic, value=b"v%d" % i)
    assert p.flush(30) == 0
    port = free_port()
    r = TernReplicator(tmp_path, ("src", source), (target_alias, kafka_pair.target.bootstrap),
                       extra={"topics": {"include": [topic]},
                              "groups": {"include": ["nothing-matches"]},
                              "offset_syncs": {"location": "source"},
                              "metrics": {"listen": f"127.0.0.1:{port}"}})
    r.start()

    def counted() -> str | None:
        # Delivery reports of the offset-syncs are served at the copy loop's next commit, which
        # waits for something to copy: one more record each time.
        p.produce(topic, value=b"more")
        assert p.flush(30) == 0
        text = scrape(port)
        return text if (sample(text, "tern_replicator_offset_sync_failures_total") or 0) > 0 \
            and sample(text, "tern_replicator_records_replicated_total") >= 100 else None

    text = wait_until(counted, 60, "a failed offset-syncs write counted", alive=[r])
    assert sample(text, "tern_replicator_errors_total", 'kind="offset_sync"') == \
        sample(text, "tern_replicator_offset_sync_failures_total")
    assert f"writing to mm2-offset-syncs.{target_alias}.internal" in r.log_text()
    assert sample(text, "tern_replicator_restarts_total") == 0
    assert r.stop() == 0
