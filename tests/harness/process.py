"""A child process whose output goes to a log file, stopped reliably.

Processes are started in their own process group so that stopping one also stops whatever it
started (a JVM launched from a shell wrapper, say).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence


# Every process started by the harness, newest last; the test report shows their logs' tails
# when a test fails (see conftest.py).
STARTED: list["ManagedProcess"] = []


class ProcessFailed(RuntimeError):
    """A managed process exited or did not become ready; the message carries its log's tail."""


class ManagedProcess:
    def __init__(self, name: str, argv: Sequence[str | os.PathLike], log_path: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, start_new_session=True)
        finally:
            log.close()
        STARTED.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Polls `ready` until it returns True; fails with the log's tail if the process exits
        first or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ProcessFailed(
                    f"{self.name} exited with {self.proc.returncode} before {what}\n"
                    f"{self.log_tail()}")
            if ready():
                return
            time.sleep(0.2)
        raise ProcessFailed(f"{self.name}: {what} did not happen within {timeout:.0f}s\n"
                            f"{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM to the process group, then SIGKILL after `timeout` seconds. Returns the exit
        code (negative for a signal), or None if it was never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        else:
            self._signal_group(signal.SIGKILL)  # leftovers of an exited leader
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9 of the whole group, as a crash would do."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last {min(lines, len(text))} lines of {self.log_path} ---\n" + \
            "\n".join(text[-lines:])

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
