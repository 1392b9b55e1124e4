"""tern-replicator as a test subject: one replicator process between two clusters, with its
config file and state directory in the test's folder. It can be stopped (SIGTERM), killed
(kill -9) and started again on the same state directory."""

from __future__ import annotations

from pathlib import Path

import json
import os

from . import paths
from .process import ManagedProcess


class TernReplicator:
    def __init__(self, workdir: Path, source: tuple[str, str], target: tuple[str, str],
                 extra: dict | None = None, binary: Path | None = None):
        """`binary` runs that tern-replicator instead of the build's (the benchmark runs a
        copy, so that a rebuild during a run does not swap it)."""
        self.workdir = workdir
        self.binary = binary
        self.source_alias, self.source_bootstrap = source
        self.target_alias, self.target_bootstrap = target
        self.extra = extra or {}
        self.state_dir = workdir / "state"
        # Failpoints armed at the next start (TERN_FAILPOINTS, see common/failpoint.h).
        self.failpoints: list[str] = []
        self.process: ManagedProcess | None = None
        self.starts = 0

    def config(self) -> dict:
        config = {
            "source": {"alias": self.source_alias, "bootstrap.servers": self.source_bootstrap},
            "target": {"alias": self.target_alias, "bootstrap.servers": self.target_bootstrap},
            "topics": {"include": [".*"], "exclude": []},
            "groups": {"include": [".*"], "exclude": []},
            "naming": "identity",
            "state_dir": str(self.state_dir),
            "discovery": {"interval_ms": 1000},
            "groups_sync": {"interval_ms": 1000},
        }
        for key, value in self.extra.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        return config

    @property
    def config_path(self) -> Path:
        return self.workdir / "tern-replicator.yaml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "tern-replicator.log"

    def start(self) -> "TernReplicator":
        self.workdir.mkdir(parents=True, exist_ok=True)
        # JSON is YAML too.
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        self.starts += 1
        env = {**os.environ, "TERN_FAILPOINTS": ",".join(self.failpoints)} \
            if self.failpoints else None
        self.process = ManagedProcess(
            f"tern-replicator#{self.starts}",
            [self.binary or paths.program("tern-replicator"), "--config", self.config_path],
            self.log_path, env=env).start()
        return self

    def stop(self) -> int | None:
        return self.process.stop() if self.process is not None else None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def wait_exit(self, timeout: float) -> int:
        """Waits for the process to end by itself (a failpoint); its exit code."""
        assert self.process is not None and self.process.proc is not None
        return self.process.proc.wait(timeout=timeout)

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def progress_group(self) -> str:
        """The group on the target whose committed offsets are the replicated source
        positions (the transactional id; "tern-replicator.<source>.<target>" unless set)."""
        return (self.extra.get("transactional_id")
                or f"tern-replicator.{self.source_alias}.{self.target_alias}")

    def wait_for_log(self, text: str, timeout: float = 60, count: int = 1) -> None:
        """Waits until `text` occurs `count` times in the log; fails with the log's tail if the
        replicator exits first or the time runs out."""
        assert self.process is not None, "wait_for_log() before start()"
        self.process.wait_until(lambda: self.log_text().count(text) >= count, timeout,
                                f"{count} x {text!r} in the log")
