"""Fixtures shared by Tern's multi-process tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import paths
from harness.kafka import KafkaPeer
from harness.process import STARTED


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every managed process's log to the report; the whole
    logs stay in pytest's base temporary directory."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for proc in STARTED[-6:]:
            report.sections.append((f"log of {proc.name} ({proc.log_path})", proc.log_tail()))


@pytest.fixture(scope="module")
def kafka(tmp_path_factory) -> KafkaPeer:
    """An Apache Kafka node shared by the tests of one module; topics keep tests apart."""
    peer = KafkaPeer(tmp_path_factory.mktemp("kafka"))
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    """build/bin, with Tern's programs."""
    for name in ("tern-broker", "tern-replicator", "ternctl"):
        paths.program(name)
    return paths.BIN
