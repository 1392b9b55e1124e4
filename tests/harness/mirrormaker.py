"""MirrorMaker 2 as a test and benchmark peer of tern-replicator: a dedicated MirrorMaker
process (connect-mirror-maker) replicating one direction between two clusters."""

from __future__ import annotations

from pathlib import Path

from . import paths
from .process import ManagedProcess


class MirrorMakerPeer:
    """Replicates topics matching `topics` (a regex) from `source` to `target`.

    Aliases name the clusters; with MM2's default naming policy a topic T appears on the
    target as "<source_alias>.T". Internal topics get one replica, and intervals are short so
    that tests see progress within seconds.
    """

    def __init__(self, workdir: Path, source: tuple[str, str], target: tuple[str, str],
                 topics: str = ".*", extra: dict[str, str] | None = None):
        self.workdir = workdir
        self.source_alias, self.source_bootstrap = source
        self.target_alias, self.target_bootstrap = target
        self.topics = topics
        self.extra = extra or {}
        self.process: ManagedProcess | None = None

    def properties(self) -> str:
        s, t = self.source_alias, self.target_alias
        settings = {
            "clusters": f"{s}, {t}",
            f"{s}.bootstrap.servers": self.source_bootstrap,
            f"{t}.bootstrap.servers": self.target_bootstrap,
            f"{s}->{t}.enabled": "true",
            f"{s}->{t}.topics": self.topics,
            f"{t}->{s}.enabled": "false",
            "replication.factor": "1",
            "offset-syncs.topic.replication.factor": "1",
            "checkpoints.topic.replication.factor": "1",
            "heartbeats.topic.replication.factor": "1",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "refresh.topics.interval.seconds": "2",
            "refresh.groups.interval.seconds": "2",
            "emit.checkpoints.interval.seconds": "2",
            "sync.group.offsets.interval.seconds": "2",
            **self.extra,
        }
        return "".join(f"{k} = {v}\n" for k, v in settings.items())

    def start(self) -> "MirrorMakerPeer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "mm2.properties"
        props.write_text(self.properties())
        self.process = ManagedProcess(
            "mirrormaker", [paths.kafka_tool("connect-mirror-maker"), props],
            self.workdir / "mirrormaker.log").start()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
