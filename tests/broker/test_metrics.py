"""tern-broker's Prometheus endpoint: the numbers it reports match what clients did, and the
exposition passes `promtool check metrics`."""

from __future__ import annotations

import re
import subprocess
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness.ports import free_port
from harness.tern import TernBroker

RECORDS = 500


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series, or None when it is absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def broker_with_metrics(tmp_path):
    port = free_port()
    broker = TernBroker(tmp_path / "tern", {"metrics_listen": f"127.0.0.1:{port}"}).start()
    yield broker, port
    broker.stop()


def test_metrics_count_what_clients_did(broker_with_metrics):
    broker, port = broker_with_metrics
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("metered", 2, 1)])["metered"].result(30)

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(RECORDS):
        producer.produce("metered", value=b"x" * 100, partition=i % 2)
    assert producer.flush(30) == 0
    # A fetch past the end of the log is answered with OFFSET_OUT_OF_RANGE (1).
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "auto.offset.reset": "error"})
    consumer.assign([TopicPartition("metered", 0, 10**6)])
    seen = None
    for _ in range(50):
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is not None:
            seen = msg.error()
            break
    consumer.close()
    assert seen is not None, "the consumer was never told its offset is out of range"

    text = scrape(port)
    assert sample(text, "tern_broker_log_end_offset", topic="metered", partition="0") == RECORDS / 2
    assert sample(text, "tern_broker_log_end_offset", topic="metered", partition="1") == RECORDS / 2
    assert sample(text, "tern_broker_log_size_bytes", topic="metered", partition="0") > 100 * 250
    assert sample(text, "tern_broker_requests_total", api="Produce") >= 1
    assert sample(text, "tern_broker_requests_total", api="CreateTopics") == 1
    assert sample(text, "tern_broker_request_duration_seconds_count", api="Produce") >= 1
    assert sample(text, "tern_broker_received_bytes_total") > RECORDS * 100
    assert sample(text, "tern_broker_connections") >= 1
    assert sample(text, "tern_broker_build_info") == 1
    assert sample(text, "tern_broker_response_errors_total", api="Fetch", code="1") >= 1


def test_transactions_are_counted_by_outcome(broker_with_metrics):
    broker, port = broker_with_metrics
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("metered-txn", 1, 1)])["metered-txn"].result(30)
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "metered"})
    p.init_transactions(30)
    for outcome in ("commit", "commit", "abort"):
        p.begin_transaction()
        p.produce("metered-txn", value=b"x", partition=0)
        p.flush(30)
        p.commit_transaction(30) if outcome == "commit" else p.abort_transaction(30)
    p.begin_transaction()
    p.produce("metered-txn", value=b"open", partition=0)
    p.flush(30)
    text = scrape(port)
    assert sample(text, "tern_broker_transactions_ended_total", outcome="commit") == 2
    assert sample(text, "tern_broker_transactions_ended_total", outcome="abort") == 1
    assert sample(text, "tern_broker_transactions_open") == 1
    # A new instance aborts the open transaction, fencing the old producer.
    Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "metered"}) \
        .init_transactions(30)
    text = scrape(port)
    assert sample(text, "tern_broker_transactions_ended_total", outcome="abort") == 2
    assert sample(text, "tern_broker_transactions_open") == 0


def test_exposition_passes_promtool(broker_with_metrics):
    broker, port = broker_with_metrics
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("checked", 1, 1)])["checked"].result(30)
    text = scrape(port)
    assert re.search(r"^tern_broker_log_end_offset\{", text, re.M)
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
