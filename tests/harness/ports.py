"""Free TCP ports on loopback."""

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port that nothing listens on right now. Another process may take it before the
    caller binds it; callers that start servers retry on a bind failure."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
