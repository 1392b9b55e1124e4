"""helm/'s Grafana dashboards and Prometheus alert rules: helm/validate.sh passes (promtool
checks and unit-tests the rules and parses every dashboard expression) and rejects broken
input, and every tern_replicator_* metric they name exists in a live tern-replicator's
exposition (two tern-brokers, at-least-once, as in the demo)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from harness import paths
from harness.ports import free_port
from harness.replicator import TernReplicator
from harness.tern import TernBroker

HELM = paths.ROOT / "helm"
VALIDATE = HELM / "validate.sh"
METRIC = re.compile(r"\btern_replicator_[a-z0-9_]*[a-z0-9]")


def run_validate(script: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)


def copy_helm(tmp_path: Path) -> Path:
    """A copy of validate.sh with the dashboards and rules, to break without touching helm/."""
    helm = tmp_path / "helm"
    shutil.copytree(HELM / "dashboards", helm / "dashboards")
    shutil.copytree(HELM / "alerts", helm / "alerts")
    shutil.copy(VALIDATE, helm / "validate.sh")
    return helm


def test_validate_script_passes():
    result = run_validate(VALIDATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validate.sh: all good" in result.stdout
    assert "SUCCESS" in result.stdout
    # Both dashboards were read and their expressions checked.
    counts = re.search(r"(\d+) dashboards, (\d+) panels, (\d+) expressions", result.stdout)
    assert counts and int(counts.group(1)) >= 2 and int(counts.group(3)) >= 20, result.stdout


def _break_nested_expr(d: dict) -> str:
    row = next(p for p in d["panels"] if p.get("type") == "row" and p.get("panels"))
    row["panels"][0]["targets"][0]["expr"] = "sum by (le) rate(x[5m])"
    return "could not parse expression"


def _drop_title(d: dict) -> str:
    d["panels"][1]["title"] = ""
    return "no title"


def _undefined_variable(d: dict) -> str:
    d["panels"][1]["targets"][0]["expr"] = 'up{job=~"$jbo"}'
    return "uses $jbo"


def _fixed_datasource(d: dict) -> str:
    d["panels"][1]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    return "datasource is not ${datasource}"


@pytest.mark.parametrize("breakage", [_break_nested_expr, _drop_title, _undefined_variable,
                                      _fixed_datasource])
def test_validate_script_rejects_a_broken_dashboard(tmp_path, breakage):
    helm = copy_helm(tmp_path)
    dashboard = helm / "dashboards" / "tern-replicator-overview.json"
    d = json.loads(dashboard.read_text())
    expected = breakage(d)
    dashboard.write_text(json.dumps(d))
    result = run_validate(helm / "validate.sh")
    assert result.returncode != 0, result.stdout
    assert expected in result.stdout + result.stderr, result.stdout + result.stderr


def test_validate_script_runs_the_alert_unit_tests(tmp_path):
    """A rule weakened so that its unit test's expectation no longer holds fails validation."""
    helm = copy_helm(tmp_path)
    rules = helm / "alerts" / "tern-replicator-rules.yaml"
    text = rules.read_text()
    assert "tern_replicator_lag_records > 10000" in text
    rules.write_text(text.replace("tern_replicator_lag_records > 10000",
                                  "tern_replicator_lag_records > 100000"))
    result = run_validate(helm / "validate.sh")
    assert result.returncode != 0
    assert "TernReplicatorLagGrowing" in result.stdout + result.stderr


def metric_names_used() -> set[str]:
    """Every tern_replicator_* name in the dashboards (expressions, descriptions) and rules."""
    names: set[str] = set()
    files = sorted((HELM / "dashboards").glob("*.json")) + sorted((HELM / "alerts").glob("*.yaml"))
    assert files
    for f in files:
        names |= set(METRIC.findall(f.read_text()))
    return names


def exposed_names(text: str) -> set[str]:
    """Sample names and metric family names (# TYPE lines) of an exposition."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_every_metric_used_exists_in_a_live_replicator(tmp_path):
    used = metric_names_used()
    # The dashboards and rules really use the replicator's core metrics.
    for name in ("tern_replicator_lag_records", "tern_replicator_lag_seconds",
                 "tern_replicator_records_replicated_total",
                 "tern_replicator_replication_latency_seconds_bucket",
                 "tern_replicator_last_commit_timestamp_seconds",
                 "tern_replicator_checkpoint_age_seconds",
                 "tern_replicator_partition_lag_records"):
        assert name in used

    east = TernBroker(tmp_path / "east").start()
    west = TernBroker(tmp_path / "west").start()
    replicator = None
    try:
        topic = "dashboards"
        admin = AdminClient({"bootstrap.servers": east.bootstrap})  # alive until the result
        futures = admin.create_topics([NewTopic(topic, 2, 1)], operation_timeout=30)
        futures[topic].result(timeout=30)
        producer = Producer({"bootstrap.servers": east.bootstrap, "linger.ms": 5})
        for i in range(200):
            producer.produce(topic, key=str(i).encode(), value=b"v" * 50, partition=i % 2)
        assert producer.flush(30) == 0

        port = free_port()
        replicator = TernReplicator(
            tmp_path / "replicator", ("us-east", east.bootstrap), ("eu-west", west.bootstrap),
            extra={"topics": {"include": [topic]}, "groups": {"include": ["none-here"]},
                   "delivery": "at-least-once",  # tern-broker has no transactions yet
                   # The per-partition lag series are opt-in; the topic dashboard uses them.
                   "metrics": {"listen": f"127.0.0.1:{port}", "partition_lag": True}})
        replicator.start()

        def caught_up() -> str | None:
            try:
                text = scrape(port)
            except OSError:
                return None
            done = (re.search(rf'^tern_replicator_lag_records\{{topic="{topic}"\}} 0$', text,
                              re.MULTILINE)
                    and re.search(r"^tern_replicator_records_replicated_total 200$", text,
                                  re.MULTILINE))
            return text if done else None

        deadline = time.monotonic() + 60
        text = None
        while text is None:
            assert replicator.running(), replicator.process.log_tail()
            assert time.monotonic() < deadline, (
                "tern-replicator did not replicate 200 records within 60 s\n"
                + replicator.process.log_tail())
            text = caught_up()
            if text is None:
                time.sleep(0.5)
    finally:
        if replicator is not None:
            replicator.stop()
        west.stop()
        east.stop()

    exposed = exposed_names(text)
    # A histogram's samples (_bucket, _sum, _count) are sample names; its bare name is a family.
    missing = sorted(used - exposed)
    assert not missing, f"used in helm/ but not exposed by tern-replicator: {missing}"
