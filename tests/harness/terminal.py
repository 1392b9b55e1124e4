"""A program on a real terminal: a detached tmux session of its own (a private tmux server on
its own socket), whose screen the test reads as the program drew it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from os import PathLike


class Terminal:
    def __init__(self, argv: Sequence[str | PathLike], width: int = 200, height: int = 50):
        if shutil.which("tmux") is None:
            raise FileNotFoundError("tmux is missing: run scripts/setup.sh")
        self.socket = f"tern-test-{uuid.uuid4().hex[:12]}"
        # The pane stays after the program exits, so that its last screen can still be read.
        self._tmux("new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
                   shlex.join(str(a) for a in argv),
                   ";", "set-option", "-t", "main", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def screen(self) -> str:
        """What the terminal shows now, one line per row."""
        return self._tmux("capture-pane", "-p", "-t", "main")

    def close(self) -> None:
        """Ends the session and this test's tmux server (and with them the program)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)
