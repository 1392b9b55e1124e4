"""Apache Kafka as a test peer: a single-node KRaft cluster on loopback, on free ports, in its
own directory, always stopped afterwards.

The jars come from scripts/setup.sh; the broker runs through scripts/peers/bin/kafka-cli.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from . import paths
from .ports import free_port, is_listening
from .process import ManagedProcess, ProcessFailed

START_TIMEOUT_S = 90

# Settings for one node that is broker and controller at once; internal topics get one replica.
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data_dir}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


def random_cluster_id() -> str:
    """A cluster id as Kafka writes them: a UUID in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaPeer:
    """One Apache Kafka node. `start()` returns once it accepts client connections."""

    def __init__(self, workdir: Path, extra_properties: dict[str, str] | None = None):
        self.workdir = workdir
        self.extra_properties = extra_properties or {}
        self.port = 0
        self.controller_port = 0
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> "KafkaPeer":
        """Formats storage and starts the node; retries on fresh ports if a port was taken."""
        for attempt in range(1, attempts + 1):
            self.port, self.controller_port = free_port(), free_port()
            props = self._write_properties()
            self._format(props)
            self.process = ManagedProcess(
                "kafka", [paths.kafka_tool("kafka-server-start"), props],
                self.workdir / "kafka.log").start()
            try:
                self.process.wait_until(lambda: is_listening("127.0.0.1", self.port),
                                        START_TIMEOUT_S, "the broker listened")
                return self
            except ProcessFailed:
                self.process.stop()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def tool(self, name: str, *args: str, timeout: float = 120, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:
        """Runs one of Kafka's CLI tools; fails with its output if it exits non-zero."""
        result = subprocess.run([str(paths.kafka_tool(name)), *args], capture_output=True,
                                text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{name} {' '.join(args)} exited {result.returncode}\n"
                                 f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def _write_properties(self) -> Path:
        data_dir = self.workdir / "data"
        if data_dir.exists():
            subprocess.run(["rm", "-rf", str(data_dir)], check=True)
        text = _SERVER_PROPERTIES.format(port=self.port, controller_port=self.controller_port,
                                         data_dir=data_dir)
        text += "".join(f"{k}={v}\n" for k, v in self.extra_properties.items())
        props = self.workdir / "server.properties"
        self.workdir.mkdir(parents=True, exist_ok=True)
        props.write_text(text)
        return props

    def _format(self, props: Path) -> None:
        result = subprocess.run(
            [str(paths.kafka_tool("kafka-storage")), "format", "-t", random_cluster_id(),
             "-c", str(props)], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ProcessFailed(f"kafka-storage format failed:\n{result.stdout}{result.stderr}")
