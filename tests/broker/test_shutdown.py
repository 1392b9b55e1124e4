"""A SIGTERM that reaches tern-broker while it is still starting (loading its topics) is held
until start-up ends: the broker then shuts down cleanly, exit 0, instead of dying of the signal
with its logs unclosed, as an operator's `kill`, or a service manager stopping a restart, would
otherwise leave it.
"""

from __future__ import annotations

import os
import signal
import time

from confluent_kafka.admin import AdminClient, NewTopic

from harness import paths
from harness.ports import is_listening
from harness.process import ManagedProcess
from harness.tern import TernBroker

TOPICS = 60
PARTITIONS = 25  # 1500 partitions: loading them takes long enough to signal in the middle


def test_sigterm_during_start_up_shuts_down_cleanly(tmp_path):
    broker = TernBroker(tmp_path / "broker").start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(f"t{i:02}", PARTITIONS, 1) for i in range(TOPICS)],
                                  operation_timeout=60)
    for f in futures.values():
        f.result(timeout=120)
    assert broker.stop() == 0

    log_path = tmp_path / "broker" / "second-start.log"
    process = ManagedProcess("tern-broker#2", [
        paths.program("tern-broker"), "--data-dir", broker.data_dir,
        "--listen", broker.bootstrap], log_path).start()
    deadline = time.monotonic() + 60
    while "loaded topic" not in (log_path.read_text() if log_path.exists() else ""):
        assert process.running() and time.monotonic() < deadline, process.log_tail()
        time.sleep(0.002)
    listening_when_signalled = is_listening("127.0.0.1", broker.port)
    os.kill(process.pid, signal.SIGTERM)
    process.proc.wait(timeout=60)

    text = log_path.read_text()
    # The signal came while topics were still loading: before the fix the process died of it.
    assert not listening_when_signalled, text[-2000:]
    assert text.count("loaded topic t") == TOPICS, text[-2000:]
    assert process.proc.returncode == 0, text[-2000:]
    assert "signal 15 received, shutting down" in text
    assert text.rstrip().endswith("stopped"), text[-2000:]

    # Nothing was lost or left to recover: every topic is back with all its partitions.
    broker.restart()
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=30)
    counts = {name: len(t.partitions) for name, t in metadata.topics.items()
              if name.startswith("t")}
    assert counts == {f"t{i:02}": PARTITIONS for i in range(TOPICS)}
    assert broker.stop() == 0
