"""Fixtures shared by the tern-replicator tests: two Apache Kafka nodes per module (source and
target), which the tests of a module share, keeping apart by topic names; and the guarantee
that no replicator a test started outlives the test, even when it fails half-way."""

from __future__ import annotations

import pytest

from harness.process import STARTED
from support import Pair, start_kafka_nodes


@pytest.fixture(scope="module")
def kafka_pair(tmp_path_factory) -> Pair:
    """Source and target Apache Kafka nodes, aliases "src" and "dst"."""
    source, target = start_kafka_nodes([tmp_path_factory.mktemp("source"),
                                        tmp_path_factory.mktemp("target")])
    yield Pair(source, target)
    target.stop()
    source.stop()


@pytest.fixture(autouse=True)
def _stop_replicators_started_by_the_test():
    """Stops every tern-replicator process started during the test itself (replicators of
    module fixtures are started before it and left alone)."""
    first = len(STARTED)
    yield
    for proc in STARTED[first:]:
        if proc.name.startswith("tern-replicator"):
            proc.stop()
