"""Apache Kafka as a test peer: a single-node KRaft cluster on loopback, on free ports, in its
own directory, always stopped afterwards.

The jars come from scripts/setup.sh; the broker runs through scripts/peers/bin/kafka-cli.
"""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from pathlib import Path

from . import paths
from .ports import free_port, is_listening
from .process import ManagedProcess, ProcessFailed

START_TIMEOUT_S = 90
# As in Kafka's shipped server.properties (its built-in default is 3000): a consumer group's
# first rebalance does not wait for more members.
GROUP_INITIAL_REBALANCE_DELAY_MS = 0

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
group.initial.rebalance.delay.ms={group_delay_ms}
auto.create.topics.enable=false
"""


def random_cluster_id() -> str:
    """A cluster id as Kafka writes them: a UUID in URL-safe base64 without padding, never
    starting with "-" (Kafka's Uuid.randomUuid skips those: `kafka-storage format -t -x...`
    would read the id as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaPeer:
    """One Apache Kafka node. `start()` returns once it accepts client connections."""

    def __init__(self, workdir: Path, extra_properties: dict[str, str] | None = None,
                 extra_listeners: dict[str, str] | None = None):
        """`extra_listeners` maps a listener name (e.g. "WAN") to the host:port it advertises:
        the node listens for it on a free loopback port of its own (`listener_ports[name]`),
        and clients that bootstrap through that listener are told the advertised address, so a
        proxy listening there and forwarding to `listener_ports[name]` stays in their path."""
        self.workdir = workdir
        self.extra_properties = extra_properties or {}
        self.extra_listeners = extra_listeners or {}
        self.listener_ports: dict[str, int] = {}
        self.port = 0
        self.controller_port = 0
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, attempts: int = 3, port: int | None = None) -> "KafkaPeer":
        """Formats storage and starts the node; retries on fresh ports if a port was taken.
        `port` fixes the client port (a client may already be waiting for it)."""
        for attempt in range(1, attempts + 1):
            self.port, self.controller_port = port or free_port(), free_port()
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

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def restart(self) -> "KafkaPeer":
        """Starts the node again after stop() or kill(), on the same ports and data directory
        (nothing is re-formatted), so clients configured with `bootstrap` reconnect and find
        the topics and records it had."""
        assert self.port and not self.running(), "restart() needs a stopped, started-once node"
        props = self.workdir / "server.properties"
        # Whoever held the port may not have released it yet; the node exits if it cannot
        # bind, so try a few times.
        for attempt in range(1, 4):
            self.process = ManagedProcess(
                "kafka", [paths.kafka_tool("kafka-server-start"), props],
                self.workdir / "kafka.log").start()
            try:
                self.process.wait_until(lambda: is_listening("127.0.0.1", self.port),
                                        START_TIMEOUT_S, "the broker listened again")
                return self
            except ProcessFailed:
                self.process.stop()
                if attempt == 3:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.process is not None:
            self.process.kill()

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
                                         data_dir=data_dir,
                                         group_delay_ms=GROUP_INITIAL_REBALANCE_DELAY_MS)
        text += self._extra_listener_properties()
        text += "".join(f"{k}={v}\n" for k, v in self.extra_properties.items())
        props = self.workdir / "server.properties"
        self.workdir.mkdir(parents=True, exist_ok=True)
        props.write_text(text)
        return props

    def _extra_listener_properties(self) -> str:
        """Lines that override listeners, advertised.listeners and the protocol map (the last
        occurrence of a key wins) to add `extra_listeners`, each on a fresh free port."""
        if not self.extra_listeners:
            return ""
        self.listener_ports = {name: free_port() for name in self.extra_listeners}
        listeners = [f"PLAINTEXT://127.0.0.1:{self.port}",
                     f"CONTROLLER://127.0.0.1:{self.controller_port}"]
        advertised = [f"PLAINTEXT://127.0.0.1:{self.port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        for name, address in self.extra_listeners.items():
            listeners.append(f"{name}://127.0.0.1:{self.listener_ports[name]}")
            advertised.append(f"{name}://{address}")
            protocols.append(f"{name}:PLAINTEXT")
        return (f"listeners={','.join(listeners)}\n"
                f"advertised.listeners={','.join(advertised)}\n"
                f"listener.security.protocol.map={','.join(protocols)}\n")

    def _format(self, props: Path) -> None:
        result = subprocess.run(
            [str(paths.kafka_tool("kafka-storage")), "format", "-t", random_cluster_id(),
             "-c", str(props)], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ProcessFailed(f"kafka-storage format failed:\n{result.stdout}{result.stderr}")
