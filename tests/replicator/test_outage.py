"""tern-replicator rides out cluster outages by itself: while numbered records keep flowing into
the source, the source cluster is stopped for 30 s and started again on the same port and data
directory, then the target cluster likewise. The replicator is never restarted; afterwards the
target holds every source record exactly once, in order (exactly-once mode).
"""

from __future__ import annotations

import time

import pytest

from support import (NumberedLoad, assert_replicated, consume_all, create_topic, wait_caught_up,
                     wait_until)

PARTITIONS = 3
OUTAGE_S = 30


def outage(peer, replicator, seconds: float) -> None:
    """Stops `peer` for `seconds` and starts it again; the replicator must stay up meanwhile."""
    peer.stop()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert replicator.running(), \
            f"tern-replicator exited during the outage\n{replicator.process.log_tail()}"
        time.sleep(1)
    peer.restart()


@pytest.mark.timeout(900)
def test_source_and_target_outages_heal_without_loss_or_duplicates(kafka_pair, tmp_path):
    source, target = kafka_pair.source, kafka_pair.target
    topics = ["outage-a", "outage-b"]
    for t in topics:
        create_topic(source.bootstrap, t, PARTITIONS)
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["outage-.*"]}).start()
    load = NumberedLoad(source.bootstrap, topics, PARTITIONS, rate=500)
    load.start()
    mapping = {t: t for t in topics}
    try:
        wait_until(lambda: load.sent >= 2000, 60, "2000 records at the source")
        wait_caught_up(r, mapping)

        # The source goes away; nothing can be written to it meanwhile.
        load.pause()
        before = load.sent
        outage(source, r, OUTAGE_S)
        load.resume()
        wait_until(lambda: load.sent >= before + 2000, 60, "2000 more records at the source")
        wait_caught_up(r, mapping, timeout=180)
        log_after_source = len(r.log_text())

        # The target goes away; the source keeps taking records.
        before = load.sent
        outage(target, r, OUTAGE_S)
        assert load.sent > before + 0.5 * 500 * OUTAGE_S, "the load stalled during the outage"
        wait_until(lambda: load.sent >= before + 500 * OUTAGE_S + 2000, 120,
                   "2000 records at the source after the target came back")
        load.finish()
        wait_caught_up(r, mapping, timeout=240)
        target_outage_log = r.log_text()[log_after_source:]
    finally:
        load.halt()
        stopped = r.stop()
    assert stopped == 0, "tern-replicator did not exit cleanly on SIGTERM"
    # It noticed the target outage (and recovered from it by itself: one process throughout).
    assert "[error]" in target_outage_log or "[warning]" in target_outage_log
    assert r.starts == 1

    total = 0
    for t in topics:
        src = consume_all(source.bootstrap, t)
        assert_replicated(src, consume_all(target.bootstrap, t), "src", what=t)
        total += sum(len(v) for v in src.values())
    assert total == load.sent
    print(f"{total} records replicated across a {OUTAGE_S} s source and a {OUTAGE_S} s target "
          f"outage")
