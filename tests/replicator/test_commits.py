"""When tern-replicator commits in exactly-once mode: a transaction that holds everything the
source had commits at once, however long commit_interval_ms is, so read_committed consumers on
the target see records when they are copied; the early-commit counter of /metrics counts those
transactions, and the records arrive once, in order.
"""

from __future__ import annotations

from harness.ports import free_port
from support import (assert_replicated, consume_all, count_records, create_topic, metric,
                     produce, producer, topic_names, wait_until)


def test_caught_up_transactions_commit_long_before_the_commit_interval(kafka_pair, tmp_path):
    src, dst = kafka_pair.source.bootstrap, kafka_pair.target.bootstrap
    create_topic(src, "prompt", 3)
    port = free_port()
    # The longest interval there is: a record visible within the waits below was committed
    # because copying had caught up, not because the interval ran out.
    r = kafka_pair.replicator(tmp_path / "replicator", topics={"include": ["prompt"]},
                              transactional_id="tern-replicator.prompt",
                              commit_interval_ms=60000,
                              metrics={"listen": f"127.0.0.1:{port}"}).start()
    wait_until(lambda: "prompt" in topic_names(dst), 60, "target topic prompt created")
    p = producer(src)
    for batch in range(3):
        produce(p, "prompt", [{"partition": i % 3, "key": b"%d" % i, "value": b"v-%d" % i}
                              for i in range(batch * 100, (batch + 1) * 100)])
        wait_until(lambda: count_records(dst, "prompt") == (batch + 1) * 100, 30,
                   f"batch {batch} visible to read_committed consumers on the target",
                   alive=[r])
    early = metric(port, "tern_replicator_early_commits_total")
    assert early is not None and early >= 3, f"early commits: {early}"
    assert_replicated(consume_all(src, "prompt"), consume_all(dst, "prompt"),
                      kafka_pair.source_alias, "prompt")
    assert r.stop() == 0
