"""tern-replicator's gRPC API (tern.replicator.v1.ReplicatorService, grpc.health.v1, server
reflection), called with grpcurl through reflection alone, against a live replicator between
two Apache Kafka nodes, and checked against what the clusters really hold.

One replicator with a bearer token and metrics is shared by the module (topics "api-*", groups
"api-*"); each test keeps to its own topics. The cluster outage tests come last: they stop the
target, then the source.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from harness.grpcurl import GrpcError, Grpcurl
from harness.ports import free_port
from harness.replicator import TernReplicator
from support import (NumberedLoad, Pair, assert_replicated, consume_all, create_topic,
                     end_offsets, metric, produce, producer, wait_caught_up, wait_until)

SERVICE = "tern.replicator.v1.ReplicatorService"
HEALTH_CHECK = "grpc.health.v1.Health/Check"
TOKEN = "t0ken-for-the-api-tests"
BASE_TOPIC = "api-base"
BASE_RECORDS = 1000


@dataclass
class Api:
    pair: Pair
    replicator: TernReplicator
    client: Grpcurl
    metrics_port: int
    produced: int = 0  # records produced so far to the replicated topics

    def call(self, method: str, request: dict | None = None, **kwargs) -> dict:
        return self.client.call(f"{SERVICE}/{method}", request, **kwargs)

    def produce(self, topic: str, count: int, partitions: int = 1) -> None:
        """`count` records "<topic>-<i>" round-robin over the partitions of `topic`."""
        p = producer(self.pair.source.bootstrap)
        produce(p, topic, ({"partition": i % partitions, "key": b"k%d" % i,
                            "value": f"{topic}-{i}".encode()} for i in range(count)))
        self.produced += count

    def partitions(self, topic_pattern: str) -> list[dict]:
        return self.call("ListPartitions", {"topic_pattern": topic_pattern})["partitions"]

    def wait_partitions(self, topic_pattern: str, ready, what: str,
                        timeout: float = 60) -> list[dict]:
        """Polls ListPartitions until `ready(partitions)`; returns them."""
        def check():
            parts = self.partitions(topic_pattern)
            return parts if parts and ready(parts) else None
        return wait_until(check, timeout, what, alive=[self.replicator])


def grpc_config(port: int, **more) -> dict:
    return {"grpc": {"listen": f"127.0.0.1:{port}", **more}}


@pytest.fixture(scope="module")
def api(kafka_pair, tmp_path_factory) -> Api:
    """The shared replicator, started once BASE_RECORDS records are in topic "api-base" and
    returned when they are replicated."""
    workdir = tmp_path_factory.mktemp("api-replicator")
    token_file = workdir / "token"
    token_file.write_text(f"  {TOKEN}\n")
    port, metrics_port = free_port(), free_port()
    replicator = kafka_pair.replicator(
        workdir, topics={"include": ["api-.*"]}, groups={"include": ["api-.*"]},
        metrics={"listen": f"127.0.0.1:{metrics_port}"},
        **grpc_config(port, token_file=str(token_file)))
    api = Api(kafka_pair, replicator, Grpcurl(f"127.0.0.1:{port}", token=TOKEN), metrics_port)
    create_topic(kafka_pair.source.bootstrap, BASE_TOPIC, partitions=2)
    api.produce(BASE_TOPIC, BASE_RECORDS, partitions=2)
    replicator.start()
    replicator.wait_for_log(f"gRPC API on 127.0.0.1:{port}")
    wait_caught_up(replicator, {BASE_TOPIC: BASE_TOPIC})
    yield api
    replicator.stop()


def as_int(value) -> int:
    """int64 fields come as JSON strings."""
    return int(value)


def target_record(bootstrap: str, topic: str, partition: int, offset: int):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tern-tests-reader",
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        c.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                return m
        raise AssertionError(f"{topic}[{partition}]@{offset}: nothing read within 30 s")
    finally:
        c.close()


# --- status and progress ----------------------------------------------------------------------

def test_get_status_is_running_and_counts_what_was_produced(api):
    def caught_up():
        status = api.call("GetStatus")
        done = (status["state"] == "REPLICATOR_STATE_RUNNING"
                and as_int(status["totals"]["lag_records"]) == 0
                and as_int(status["totals"]["records_replicated"]) == api.produced)
        return status if done else None

    status = wait_until(caught_up, 60, "GetStatus RUNNING with everything produced replicated",
                        alive=[api.replicator])
    assert status["version"]
    assert status["delivery"] == "DELIVERY_MODE_EXACTLY_ONCE"
    assert status["start_time"] is not None
    for side, cluster, alias in (("source", api.pair.source, "src"),
                                 ("target", api.pair.target, "dst")):
        assert status[side]["alias"] == alias
        assert status[side]["bootstrap_servers"] == cluster.bootstrap
        assert status[side]["reachable"] is True
        assert status[side]["last_contact_time"] is not None
    flows = {f["source_topic"]: f for f in status["flows"]}
    assert flows[BASE_TOPIC]["target_topic"] == BASE_TOPIC
    assert flows[BASE_TOPIC]["partitions"] == 2
    assert flows[BASE_TOPIC]["state"] == "FLOW_STATE_COPYING"
    assert as_int(flows[BASE_TOPIC]["lag_records"]) == 0
    assert as_int(status["totals"]["commits"]) >= 1
    assert as_int(status["totals"]["records_lost"]) == 0
    assert as_int(status["totals"]["bytes_replicated"]) > 0


def test_list_partitions_shows_every_partition_caught_up(api):
    ends = end_offsets(api.pair.source.bootstrap, BASE_TOPIC)
    parts = api.wait_partitions(
        BASE_TOPIC, lambda ps: all(as_int(p["lag_records"]) == 0 for p in ps),
        "lag 0 on every partition of api-base")
    assert [(p["source_topic"], p["partition"]) for p in parts] == [(BASE_TOPIC, 0),
                                                                    (BASE_TOPIC, 1)]
    for p in parts:
        assert p["target_topic"] == BASE_TOPIC
        assert p["state"] == "FLOW_STATE_COPYING"
        assert as_int(p["replicated_offset"]) == ends[p["partition"]]
        assert as_int(p["source_end_offset"]) == ends[p["partition"]]
        assert p["lag_seconds"] == 0
    # The pattern is over the whole name; empty means all.
    assert api.partitions("api-bas") == []
    assert {p["source_topic"] for p in api.partitions("")} >= {BASE_TOPIC}


def test_watch_progress_streams_updates_while_records_flow(api):
    create_topic(api.pair.source.bootstrap, "api-watch", partitions=1)
    api.wait_partitions("api-watch", lambda ps: ps[0]["state"] == "FLOW_STATE_COPYING",
                        "api-watch picked up by discovery")
    load = NumberedLoad(api.pair.source.bootstrap, ["api-watch"], 1, rate=300)
    load.start()
    try:
        wait_until(lambda: load.sent >= 100, 30, "the load running")
        updates, end = api.client.stream(f"{SERVICE}/WatchProgress",
                                         {"interval_ms": 500, "topic_pattern": "api-watch"},
                                         max_time=4)
    finally:
        load.finish()
    api.produced += load.sent
    assert end is not None and end.code == "DEADLINE_EXCEEDED", end  # it streams until then
    assert len(updates) >= 2, updates
    for u in updates:
        assert u["state"] == "REPLICATOR_STATE_RUNNING"
        assert [p["source_topic"] for p in u["partitions"]] == ["api-watch"]
    replicated = [as_int(u["totals"]["records_replicated"]) for u in updates]
    assert replicated == sorted(replicated)
    assert replicated[-1] > replicated[0], replicated
    assert as_int(updates[-1]["partitions"][0]["replicated_offset"]) > 0

    _, end = api.client.stream(f"{SERVICE}/WatchProgress", {"interval_ms": 50})
    assert end is not None and end.code == "INVALID_ARGUMENT"
    assert "interval_ms" in end.message


# --- offsets and groups -----------------------------------------------------------------------

TRANSLATE_TOPIC = "api-translate"
GROUP = "api-group"


@pytest.fixture(scope="module")
def translated(api):
    """50 records in "api-translate", replicated."""
    create_topic(api.pair.source.bootstrap, TRANSLATE_TOPIC, partitions=1)
    api.produce(TRANSLATE_TOPIC, 50)
    wait_caught_up(api.replicator, {TRANSLATE_TOPIC: TRANSLATE_TOPIC})
    return consume_all(api.pair.source.bootstrap, TRANSLATE_TOPIC)[0]


def translate(api, topic: str, partition: int, offset: int) -> dict:
    response = api.call("TranslateOffsets", {"position": {"topic": topic, "partition": partition,
                                                          "offset": offset}})
    [translation] = response["translations"]
    return translation


def test_translate_position_points_at_the_same_record_on_the_target(api, translated):
    for source_offset in (0, 20, 49):
        t = translate(api, TRANSLATE_TOPIC, 0, source_offset)
        assert (t["source_topic"], t["partition"], as_int(t["source_offset"]),
                t["target_topic"]) == (TRANSLATE_TOPIC, 0, source_offset, TRANSLATE_TOPIC)
        target_offset = as_int(t["target_offset"])
        assert target_offset >= 0
        record = target_record(api.pair.target.bootstrap, TRANSLATE_TOPIC, 0, target_offset)
        assert record.offset() == target_offset
        assert record.value() == translated[source_offset].value
        assert record.key() == translated[source_offset].key
    # Not replicated yet: no translation.
    assert as_int(translate(api, TRANSLATE_TOPIC, 0, 10_000)["target_offset"]) == -1

    for position, words in (({"topic": "api-unknown", "partition": 0, "offset": 1},
                             "not replicated"),
                            ({"topic": TRANSLATE_TOPIC, "partition": 3, "offset": 1},
                             "no partition 3")):
        with pytest.raises(GrpcError) as error:
            api.call("TranslateOffsets", {"position": position})
        assert error.value.code == "NOT_FOUND" and words in error.value.message
    with pytest.raises(GrpcError) as error:
        api.call("TranslateOffsets", {})
    assert error.value.code == "INVALID_ARGUMENT"


def commit_group(api) -> list[dict]:
    """Commits GROUP at offset 30 of TRANSLATE_TOPIC at the source; returns ListGroups's entry
    once group sync has it."""
    c = Consumer({"bootstrap.servers": api.pair.source.bootstrap, "group.id": GROUP,
                  "enable.auto.commit": False})
    try:
        result = c.commit(offsets=[TopicPartition(TRANSLATE_TOPIC, 0, 30)], asynchronous=False)
        assert not [tp for tp in result if tp.error], result
    finally:
        c.close()

    def listed():
        groups = api.call("ListGroups", {"group_pattern": "api-gr.*"})["groups"]
        return groups if groups and groups[0]["offsets"] else None

    return wait_until(listed, 60, f"{GROUP} in ListGroups", alive=[api.replicator])


def test_group_committed_at_the_source_is_translated_and_listed(api, translated):
    [group] = commit_group(api)
    assert group["group"] == GROUP
    assert group["last_sync_time"] is not None
    [offset] = group["offsets"]
    expected = translate(api, TRANSLATE_TOPIC, 0, 30)
    assert offset == expected
    record = target_record(api.pair.target.bootstrap, TRANSLATE_TOPIC, 0,
                           as_int(offset["target_offset"]))
    assert record.value() == translated[30].value

    assert api.call("TranslateOffsets", {"group": GROUP})["translations"] == [expected]
    assert api.call("ListGroups", {"group_pattern": "other-.*"})["groups"] == []
    with pytest.raises(GrpcError) as error:
        api.call("TranslateOffsets", {"group": "api-never-committed"})
    assert error.value.code == "NOT_FOUND"
    assert "ListGroups" in error.value.message
    assert "groups_sync.interval_ms" in error.value.message


# --- pause and resume -------------------------------------------------------------------------

def test_paused_topic_is_not_copied_until_resumed(api):
    topic = "api-pause"
    create_topic(api.pair.source.bootstrap, topic, partitions=2)
    api.produce(topic, 100, partitions=2)
    wait_caught_up(api.replicator, {topic: topic})

    assert api.call("PauseFlows", {"topic_pattern": "api-pau.*"})["topics"] == [topic]
    parts = api.wait_partitions(topic, lambda ps: all(p["state"] == "FLOW_STATE_PAUSED"
                                                      for p in ps),
                                "api-pause PAUSED on both partitions")
    assert [as_int(p["replicated_offset"]) for p in parts] == [50, 50]
    flows = {f["source_topic"]: f for f in api.call("GetStatus")["flows"]}
    assert flows[topic]["state"] == "FLOW_STATE_PAUSED"
    assert flows[BASE_TOPIC]["state"] == "FLOW_STATE_COPYING"  # the others go on

    target_before = end_offsets(api.pair.target.bootstrap, topic)
    api.produce(topic, 100, partitions=2)
    time.sleep(3)  # many commit intervals: a copying flow would have copied them by now
    assert end_offsets(api.pair.target.bootstrap, topic) == target_before
    assert sum(len(v) for v in consume_all(api.pair.target.bootstrap, topic).values()) == 100
    assert [p["state"] for p in api.partitions(topic)] == ["FLOW_STATE_PAUSED"] * 2

    assert api.call("PauseFlows", {"topic_pattern": "nothing-matches"})["topics"] == []
    assert api.call("ResumeFlows", {"topic_pattern": topic})["topics"] == [topic]
    assert api.call("ResumeFlows", {"topic_pattern": topic})["topics"] == []
    wait_caught_up(api.replicator, {topic: topic})
    assert_replicated(consume_all(api.pair.source.bootstrap, topic),
                      consume_all(api.pair.target.bootstrap, topic), "src", what=topic)
    api.wait_partitions(topic, lambda ps: all(p["state"] == "FLOW_STATE_COPYING"
                                              and as_int(p["lag_records"]) == 0 for p in ps),
                        "api-pause copying again with lag 0")


# --- errors, auth, reflection -----------------------------------------------------------------

@pytest.mark.parametrize("method, request_", [
    ("ListPartitions", {"topic_pattern": "api-(base"}),
    ("WatchProgress", {"topic_pattern": "[z-a]"}),
    ("ListGroups", {"group_pattern": "*"}),
    ("PauseFlows", {"topic_pattern": "("}),
    ("ResumeFlows", {"topic_pattern": "("}),
])
def test_bad_regex_is_invalid_argument_naming_it(api, method, request_):
    _, error = api.client.stream(f"{SERVICE}/{method}", request_)
    pattern = next(iter(request_.values()))
    assert error is not None and error.code == "INVALID_ARGUMENT", error
    assert f"bad regular expression '{pattern}'" in error.message


def test_pause_needs_a_pattern(api):
    with pytest.raises(GrpcError) as error:
        api.call("PauseFlows", {})
    assert error.value.code == "INVALID_ARGUMENT" and "topic_pattern" in error.value.message


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]])
def test_missing_or_wrong_token_is_unauthenticated(api, token):
    for method in ("GetStatus", "ListPartitions", "ListGroups", "PauseFlows", "WatchProgress"):
        _, error = api.client.stream(f"{SERVICE}/{method}", {}, token=token)
        assert error is not None and error.code == "UNAUTHENTICATED", (method, error)
        assert "missing or wrong bearer token" in error.message


def test_health_and_reflection_need_no_token(api):
    services = api.client.list_services()
    assert {SERVICE, "grpc.health.v1.Health"} <= set(services), services
    for service in ("", SERVICE):
        assert api.client.call(HEALTH_CHECK, {"service": service}, token=None) == {
            "status": "SERVING"}


# --- other replicators: TLS, start-up errors, shutdown ----------------------------------------

def quiet_replicator(pair: Pair, workdir: Path, name: str, **extra) -> TernReplicator:
    """A replicator that copies nothing and syncs no group, fencing nobody."""
    return pair.replicator(workdir, topics={"include": ["nothing-matches"]},
                           groups={"include": ["nothing-matches"]},
                           transactional_id=f"tern-replicator.{name}", **extra)


def test_tls(kafka_pair, tmp_path):
    cert, key = tmp_path / "api.crt", tmp_path / "api.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    r = quiet_replicator(kafka_pair, tmp_path / "replicator", "tls",
                         **grpc_config(port, tls={"cert_file": str(cert),
                                                  "key_file": str(key)})).start()
    r.wait_for_log(f"gRPC API on 127.0.0.1:{port} (TLS)")
    status = Grpcurl(f"127.0.0.1:{port}", cacert=cert).call(f"{SERVICE}/GetStatus")
    assert status["source"]["alias"] == "src"
    _, error = Grpcurl(f"127.0.0.1:{port}").stream(f"{SERVICE}/GetStatus")  # plaintext
    assert error is not None


@pytest.mark.parametrize("grpc, words", [
    ({"token_file": "/nonexistent/token"},
     "field 'grpc.token_file': cannot read '/nonexistent/token'"),
    ({"token_file": "EMPTY"}, "holds no token"),
    ({"tls": {"cert_file": "/nonexistent/api.crt", "key_file": "/nonexistent/api.key"}},
     "field 'grpc.tls.cert_file': cannot read '/nonexistent/api.crt'"),
    ({"tls": {"cert_file": "/nonexistent/api.crt"}},
     "field 'grpc.tls.key_file': a value is required"),
])
def test_unusable_grpc_files_are_config_errors(kafka_pair, tmp_path, grpc, words):
    if grpc.get("token_file") == "EMPTY":
        (tmp_path / "empty-token").write_text("\n")
        grpc = {"token_file": str(tmp_path / "empty-token")}
    r = quiet_replicator(kafka_pair, tmp_path / "replicator", "bad-files",
                         **grpc_config(free_port(), **grpc)).start()
    wait_until(lambda: not r.running(), 30, "tern-replicator to exit")
    assert r.process.proc.returncode == 2
    assert words in r.log_text()


def test_grpc_port_in_use_is_a_clear_error(kafka_pair, tmp_path):
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        r = quiet_replicator(kafka_pair, tmp_path / "replicator", "busy",
                             **grpc_config(port)).start()
        wait_until(lambda: not r.running(), 30, "tern-replicator to exit")
    assert r.process.proc.returncode == 1
    assert f"cannot serve the gRPC API on 127.0.0.1:{port}" in r.log_text()


def test_watch_progress_ends_when_the_replicator_stops(kafka_pair, tmp_path):
    port = free_port()
    r = quiet_replicator(kafka_pair, tmp_path / "replicator", "watch-stop",
                         **grpc_config(port)).start()
    r.wait_for_log(f"gRPC API on 127.0.0.1:{port}")
    outcome: list = []

    def watch() -> None:
        outcome.append(Grpcurl(f"127.0.0.1:{port}").stream(
            f"{SERVICE}/WatchProgress", {"interval_ms": 200}, max_time=60))

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(2)
    assert r.stop() == 0
    watcher.join(30)
    assert not watcher.is_alive(), "WatchProgress went on after the replicator stopped"
    [(updates, end)] = outcome
    assert len(updates) >= 2
    assert end is not None and end.code == "UNAVAILABLE" and "stopping" in end.message, end


# --- health follows the clusters (last: they stop the target, then the source) -----------------

def health(api, service: str = SERVICE) -> str:
    return api.client.call(HEALTH_CHECK, {"service": service}, token=None)["status"]


def reachable(api, cluster: str) -> float | None:
    """The replicator's tern_replicator_cluster_reachable gauge for "source" or "target"."""
    return metric(api.metrics_port, "tern_replicator_cluster_reachable", f'cluster="{cluster}"')


def group_sync_failures(api) -> float:
    return metric(api.metrics_port, "tern_replicator_group_sync_failures_total")


STALE_CHECKPOINT_S = 5  # groups_sync.interval_ms is 1000


def checkpoint_age(api) -> float:
    return metric(api.metrics_port, "tern_replicator_checkpoint_age_seconds")


def wait_serving_and_reachable(api, timeout: float) -> None:
    wait_until(lambda: health(api) == "SERVING" and health(api, "") == "SERVING"
               and reachable(api, "source") == 1 and reachable(api, "target") == 1, timeout,
               "health SERVING and both clusters reachable", alive=[api.replicator])


def wait_group_sync_round(api) -> None:
    """Waits for group sync to complete rounds again (ListGroups shows a newer sync time)."""
    synced_at = {g["group"]: g.get("last_sync_time") for g in api.call("ListGroups")["groups"]}
    assert synced_at, "no group to watch"
    wait_until(lambda: all(g.get("last_sync_time") != synced_at.get(g["group"])
                           for g in api.call("ListGroups")["groups"]), 60,
               "a group sync round after the cluster came back", alive=[api.replicator])


def test_health_turns_not_serving_while_the_target_is_down(api, translated, kafka_pair):
    """On the shared replicator, which syncs a consumer group: the target's restart must not
    hurt it (librdkafka 2.0 crashed group offset listings answered NOT_COORDINATOR on
    producer handles; group sync's admin clients are consumer handles for that reason).
    Meanwhile the target's reachability gauge is 0, group sync rounds count as failed and the
    checkpoint age grows; all return to normal with the target."""
    r = api.replicator
    commit_group(api)
    wait_serving_and_reachable(api, 30)
    failures_before = group_sync_failures(api)
    kafka_pair.target.stop()
    try:
        wait_until(lambda: health(api) == "NOT_SERVING", 20, "health NOT_SERVING", alive=[r])
        assert health(api, "") == "NOT_SERVING"
        assert reachable(api, "target") == 0
        assert reachable(api, "source") == 1
        status = api.call("GetStatus")
        assert status["state"] == "REPLICATOR_STATE_DEGRADED"
        assert status["target"]["reachable"] is False
        assert status["target"]["last_error"]["message"]
        assert status["source"]["reachable"] is True
        wait_until(lambda: group_sync_failures(api) > failures_before, 60,
                   "a failed group sync round counted", alive=[r])
        assert metric(api.metrics_port, "tern_replicator_errors_total",
                      'kind="group_sync"') == group_sync_failures(api)
        # Rounds run every second while they succeed: the checkpoints grow older instead.
        wait_until(lambda: checkpoint_age(api) > STALE_CHECKPOINT_S, 60,
                   "the checkpoint age growing", alive=[r])
    finally:
        kafka_pair.target.restart()
    wait_serving_and_reachable(api, 60)
    assert api.call("GetStatus")["target"]["reachable"] is True
    wait_until(lambda: checkpoint_age(api) < STALE_CHECKPOINT_S, 60,
               "the checkpoints up to date again", alive=[r])
    # Group sync goes on after the target's return (several rounds), in the same process.
    wait_group_sync_round(api)
    time.sleep(5)
    assert r.running() and r.starts == 1


def test_health_turns_not_serving_while_the_source_is_down(api, translated, kafka_pair):
    """Likewise for the source: its gauge is 0, group sync rounds fail, all heal by itself."""
    r = api.replicator
    commit_group(api)
    wait_serving_and_reachable(api, 60)
    failures_before = group_sync_failures(api)
    kafka_pair.source.stop()
    try:
        wait_until(lambda: health(api) == "NOT_SERVING", 20, "health NOT_SERVING", alive=[r])
        assert health(api, "") == "NOT_SERVING"
        assert reachable(api, "source") == 0
        assert reachable(api, "target") == 1
        status = api.call("GetStatus")
        assert status["state"] == "REPLICATOR_STATE_DEGRADED"
        assert status["source"]["reachable"] is False
        assert status["source"]["last_error"]["message"]
        assert status["target"]["reachable"] is True
        wait_until(lambda: group_sync_failures(api) > failures_before, 60,
                   "a failed group sync round counted", alive=[r])
    finally:
        kafka_pair.source.restart()
    wait_serving_and_reachable(api, 60)
    assert api.call("GetStatus")["source"]["reachable"] is True
    wait_group_sync_round(api)
    assert r.running() and r.starts == 1
