"""Tern's programs as an operator meets them: --help, --version, one-line errors, clean stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import paths
from harness.ports import free_port, is_listening
from harness.process import ManagedProcess

PROGRAMS = ["tern-broker", "tern-replicator", "ternctl"]


def run(program: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(paths.program(program)), *args], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("program", PROGRAMS)
def test_help_and_version(program, bin_dir):
    help_run = run(program, "--help")
    assert help_run.returncode == 0
    assert "--version" in help_run.stdout
    version_run = run(program, "--version")
    assert version_run.returncode == 0
    assert version_run.stdout.startswith(f"{program} ")


@pytest.mark.parametrize("program,args,named", [
    ("tern-broker", ["--data-dir", "d", "--listen", "127.0.0.1:1", "--no-such-flag"],
     "--no-such-flag"),
    ("tern-broker", ["--listen", "127.0.0.1:1"], "--data-dir"),
    ("tern-broker", ["--data-dir", "d", "--listen", "nowhere"], "--listen"),
    ("tern-replicator", [], "--config"),
    ("tern-replicator", ["--config", "/no/such/file.yaml"], "/no/such/file.yaml"),
    ("ternctl", ["--server", "127.0.0.1:0", "status"], "--server"),
])
def test_bad_command_line_is_one_line_error(program, args, named, bin_dir):
    result = run(program, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{program}: error: ")
    assert named in lines[0]


def test_replicator_rejects_malformed_yaml_naming_the_file(tmp_path, bin_dir):
    config = tmp_path / "bad.yaml"
    config.write_text("source: { alias: us-east\n")
    result = run("tern-replicator", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith(f"tern-replicator: error: {config}")
    assert "line" in result.stderr


VALID_REPLICATOR_CONFIG = """\
source: { alias: us-east, bootstrap.servers: "127.0.0.1:9092" }
target: { alias: eu-west, bootstrap.servers: "127.0.0.1:9093" }
state_dir: ./replicator-state
"""


@pytest.mark.parametrize("extra,named", [
    ("naming: foo\n", "field 'naming': expected identity or prefix, got 'foo'"),
    ("topics: { include: [a, \"(\"] }\n", "field 'topics.include[1]': bad regular expression"),
    ("discovery: { interval_ms: 5 }\n", "field 'discovery.interval_ms': 5 is outside"),
    ("no_such_field: 1\n", "unknown field 'no_such_field'"),
])
def test_replicator_rejects_a_bad_config_naming_the_field(tmp_path, bin_dir, extra, named):
    config = tmp_path / "replicator.yaml"
    config.write_text(VALID_REPLICATOR_CONFIG + extra)
    result = run("tern-replicator", "--config", str(config))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tern-replicator: error: {config}: {named}")


def test_replicator_rejects_client_settings_that_clash(tmp_path, bin_dir):
    """Settings librdkafka takes one by one but refuses together stop the start, exit 2."""
    config = tmp_path / "replicator.yaml"
    config.write_text(VALID_REPLICATOR_CONFIG.replace(
        'bootstrap.servers: "127.0.0.1:9092" }',
        'bootstrap.servers: "127.0.0.1:9092", fetch.max.bytes: "1000", '
        'message.max.bytes: "100000" }'))
    result = run("tern-replicator", "--config", str(config))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tern-replicator: error: {config}: source settings: "), lines[0]
    assert "fetch.max.bytes" in lines[0]


def test_broker_reports_a_taken_port(tmp_path, bin_dir):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run("tern-broker", "--data-dir", str(tmp_path / "d"),
                     "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_broker_creates_its_data_dir_listens_and_stops_on_sigterm(tmp_path, bin_dir):
    port = free_port()
    data_dir = tmp_path / "nested" / "data"
    broker = ManagedProcess("tern-broker", [paths.program("tern-broker"), "--data-dir", data_dir,
                                            "--listen", f"127.0.0.1:{port}"],
                            tmp_path / "broker.log").start()
    try:
        broker.wait_until(lambda: is_listening("127.0.0.1", port), 20, "the broker listened")
        assert data_dir.is_dir()
        broker.proc.send_signal(signal.SIGTERM)
        assert broker.proc.wait(timeout=20) == 0
    finally:
        broker.stop()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_region_demo_replicates_every_record_and_stops_on_ctrl_c(tmp_path):
    """The main job (scripts/demo without set-up): two tern-brokers, tern-replicator, a
    producer, a reader and ternctl watch. It prints where its metrics and gRPC API are; once
    records were read in the other region, Ctrl-C (SIGINT) stops it: it exits 0, which it does
    only when every produced record reached the other region, and none of its processes is
    left."""
    base = free_port()
    demo = subprocess.Popen(
        [sys.executable, paths.ROOT / "scripts" / "demo_regions.py", "--seconds", "600",
         "--base-port", str(base), "--workdir", tmp_path / "demo"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TERN_BUILD": str(paths.BUILD)})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout))
    reader.start()
    try:
        def read_in_west() -> bool:
            counts = re.findall(r"read in eu-west:\s+(\d+)", "".join(lines))
            return bool(counts) and int(counts[-1]) > 0
        deadline = time.monotonic() + 120
        while not read_in_west():
            assert demo.poll() is None, "the demo exited early:\n" + "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "nothing read in eu-west within 120 s:\n" + \
                "".join(lines)[-3000:]
            time.sleep(0.5)
        started = children(demo.pid)  # two tern-brokers, tern-replicator, ternctl watch
        assert len(started) == 4, started
        demo.send_signal(signal.SIGINT)
        assert demo.wait(120) == 0, "".join(lines)[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
        reader.join(30)
    out = "".join(lines)
    assert f"metrics: curl -s http://127.0.0.1:{base + 372}/metrics" in out
    assert f"gRPC API on 127.0.0.1:{base + 373}: " in out and "--server 127.0.0.1:" in out
    assert out.rstrip().endswith("==> stopped"), out[-3000:]
    assert not [pid for pid in started if alive(pid)], "processes left after Ctrl-C"
    # ternctl watch ran beside it (a line per update when not on a terminal) and saw records
    # replicated through the gRPC API.
    watched = [int(n) for n in re.findall(r"RUNNING\s+replicated (\d+) records", out)]
    assert watched and max(watched) > 0, out[-3000:]
