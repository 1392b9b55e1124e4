"""A subscribing consumer for the group tests, run as its own process so that a test can kill it:

    python group_consumer.py BOOTSTRAP GROUP TOPIC STRATEGY SESSION_TIMEOUT_MS OUT_FILE [INSTANCE]

Subscribes to TOPIC in GROUP with the partition.assignment.strategy STRATEGY (range,
roundrobin, cooperative-sticky), or with the consumer rebalance protocol (KIP-848) when
STRATEGY is consumer:ASSIGNOR (the broker's assignor: uniform, range; the broker then decides
the session timeout, and SESSION_TIMEOUT_MS is not used), and, when INSTANCE is given, that
group.instance.id (static membership). Writes one JSON line per event to OUT_FILE, flushed at once:
    {"assigned": [partitions]}, {"revoked": [partitions]}  (rebalance callbacks)
    {"records": [[partition, offset], ...]}                (what it consumed)
    {"committed": {partition: offset}}                     (a commit the broker accepted)
Records are written before their offsets are committed, so the file lists at least everything
the group's committed offsets cover (at-least-once). SIGTERM closes the consumer (a dynamic
member leaves the group); SIGKILL is a crash.
"""

import json
import signal
import sys

from confluent_kafka import Consumer, KafkaException


def main() -> int:
    bootstrap, group, topic, strategy, session_ms, out_path = sys.argv[1:7]
    instance = sys.argv[7] if len(sys.argv) > 7 else None
    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    out = open(out_path, "a", buffering=1)

    def emit(event: dict) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    settings = {"bootstrap.servers": bootstrap, "group.id": group,
                "enable.auto.commit": False, "auto.offset.reset": "earliest",
                "topic.metadata.refresh.interval.ms": 2000, "log_level": 3}
    if strategy.startswith("consumer:"):
        settings.update({"group.protocol": "consumer",
                         "group.remote.assignor": strategy.split(":", 1)[1]})
    else:
        settings.update({"partition.assignment.strategy": strategy,
                         "session.timeout.ms": int(session_ms), "heartbeat.interval.ms": 500})
    if instance:
        settings["group.instance.id"] = instance
    c = Consumer(settings)
    c.subscribe([topic],
                on_assign=lambda _, tps: emit({"assigned": sorted(tp.partition for tp in tps)}),
                on_revoke=lambda _, tps: emit({"revoked": sorted(tp.partition for tp in tps)}))
    while not stop:
        batch = [m for m in c.consume(num_messages=500, timeout=0.2) if m.error() is None]
        if not batch:
            continue
        emit({"records": [[m.partition(), m.offset()] for m in batch]})
        try:
            answer = c.commit(asynchronous=False)
        except KafkaException:
            continue  # a rebalance took the partitions: their new owner reads them again
        emit({"committed": {tp.partition: tp.offset for tp in answer or [] if tp.error is None}})
    c.close()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
