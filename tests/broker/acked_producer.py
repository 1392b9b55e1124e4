"""A load generator for the durability tests, run as its own process:

    python acked_producer.py BOOTSTRAP TOPIC PARTITIONS FIRST_SEQUENCE ACK_FILE

Produces the values FIRST_SEQUENCE, FIRST_SEQUENCE+1, ... (decimal ASCII) round-robin over the
partitions with acks=all, no idempotence and no retries, until SIGTERM. Each acknowledged record
is appended to ACK_FILE as "partition offset value" and the file is flushed at once, so the file
lists exactly what the broker acknowledged even if the broker is killed at any moment.
"""

import signal
import sys

from confluent_kafka import Producer


def main() -> int:
    bootstrap, topic, partitions, first, ack_path = sys.argv[1:6]
    partitions, first = int(partitions), int(first)
    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    acks = open(ack_path, "a", buffering=1)

    def on_delivery(err, msg):
        if err is None:
            acks.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")
            acks.flush()

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                  "retries": 0, "linger.ms": 2, "message.timeout.ms": 10000,
                  "queue.buffering.max.messages": 20000, "log_level": 3})
    seq = first
    while not stop:
        try:
            p.produce(topic, value=str(seq).encode(), partition=seq % partitions,
                      on_delivery=on_delivery)
            seq += 1
        except BufferError:
            p.poll(0.01)
            continue
        if seq % 100 == 0:
            p.poll(0)
    p.poll(0)  # reports of acknowledgements already received
    acks.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
