"""tern-broker as a test subject: one broker on a free loopback port, with its data directory in
the test's temporary folder, stopped afterwards. Like KafkaPeer, but the broker can also be
killed (kill -9) and restarted on the same data directory and port, which the durability and
recovery tests need.
"""

from __future__ import annotations

from pathlib import Path

from . import paths
from .ports import free_port, is_listening
from .process import ManagedProcess, ProcessFailed

START_TIMEOUT_S = 30


class TernBroker:
    """One tern-broker. `start()` returns once it accepts connections; `restart()` keeps the
    data directory and the port, so clients configured with `bootstrap` reconnect."""

    def __init__(self, workdir: Path, config: dict[str, object] | None = None):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.config = config or {}
        self.port = 0
        self.process: ManagedProcess | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> "TernBroker":
        """Starts on a fresh free port (retrying if another process took it first)."""
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            try:
                return self._launch()
            except ProcessFailed:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def restart(self) -> "TernBroker":
        """Starts again on the same port and data directory (after stop() or kill())."""
        assert not self.running(), "restart() of a running broker"
        return self._launch()

    def stop(self) -> int | None:
        """SIGTERM (a clean shutdown); returns the exit code."""
        return self.process.stop() if self.process is not None else None

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.process is not None:
            self.process.kill()

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def log_path(self) -> Path:
        return self.workdir / "tern-broker.log"

    def _launch(self) -> "TernBroker":
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv: list[object] = [paths.program("tern-broker"), "--data-dir", self.data_dir,
                              "--listen", self.bootstrap]
        if self.config:
            config_file = self.workdir / "tern-broker.yaml"
            config_file.write_text("".join(f"{k}: {v}\n" for k, v in self.config.items()))
            argv += ["--config", config_file]
        self.starts += 1
        self.process = ManagedProcess(f"tern-broker#{self.starts}", argv, self.log_path).start()
        try:
            self.process.wait_until(lambda: is_listening("127.0.0.1", self.port),
                                    START_TIMEOUT_S, "the broker listened")
        except ProcessFailed:
            self.process.stop()
            raise
        return self
