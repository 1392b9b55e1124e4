"""grpcurl as the tests' gRPC client: calls by method name through server reflection (no proto
files), JSON in and out. An error status comes back as a GrpcError with its code name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from . import paths

# gRPC status codes by number, as grpcurl's -format-error reports them.
CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
         "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
         "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
         "UNAUTHENTICATED"]


class GrpcError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def _decode_all(text: str) -> list[dict]:
    """The JSON documents written one after another (grpcurl prints each message whole)."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return out
        value, i = decoder.raw_decode(text, i)
        out.append(value)


class Grpcurl:
    """Calls a server at `address`: plaintext unless `cacert` (a PEM file to verify the server
    with) is given; with `token`, every call carries "authorization: Bearer <token>"."""

    def __init__(self, address: str, token: str | None = None, cacert: Path | None = None):
        self.address, self.token, self.cacert = address, token, cacert

    def _argv(self, method: str, request: dict | None, headers: list[str],
              max_time: float | None) -> list[str]:
        argv = [str(paths.go_tool("grpcurl")), "-format-error", "-emit-defaults"]
        argv += ["-cacert", str(self.cacert)] if self.cacert else ["-plaintext"]
        if max_time is not None:
            argv += ["-max-time", str(max_time)]
        for h in headers:
            argv += ["-H", h]
        argv += ["-d", json.dumps(request or {}), self.address, method]
        return argv

    def stream(self, method: str, request: dict | None = None, token: str | None = "",
               max_time: float | None = None, timeout: float = 60
               ) -> tuple[list[dict], GrpcError | None]:
        """Every message of the call and how it ended (None: OK). `token` overrides the
        client's ("" keeps it, None sends no authorization). `max_time` ends a stream that
        does not end by itself (DEADLINE_EXCEEDED then). A server that cannot be reached (or
        does not speak TLS as asked) is UNAVAILABLE."""
        token = self.token if token == "" else token
        headers = [f"authorization: Bearer {token}"] if token is not None else []
        result = subprocess.run(self._argv(method, request, headers, max_time),
                                capture_output=True, text=True, timeout=timeout)
        messages = _decode_all(result.stdout)
        if result.returncode == 0:
            return messages, None
        if "Failed to dial target host" in result.stderr:
            return messages, GrpcError("UNAVAILABLE", result.stderr.strip())
        try:
            error = json.loads(result.stderr[result.stderr.index("{"):])
        except ValueError:
            raise AssertionError(f"grpcurl {method} failed (exit {result.returncode}): "
                                 f"{result.stderr}") from None
        code = error.get("code", 2)
        return messages, GrpcError(CODES[code] if 0 <= code < len(CODES) else str(code),
                                   error.get("message", ""))

    def list_services(self, timeout: float = 60) -> list[str]:
        """The services server reflection lists (no token sent)."""
        argv = self._argv("", None, [], None)
        argv = argv[:argv.index("-d")] + [self.address, "list"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"grpcurl list: {result.stderr}"
        return result.stdout.split()

    def call(self, method: str, request: dict | None = None, token: str | None = "",
             timeout: float = 60) -> dict:
        """The response of a unary call; raises GrpcError on an error status."""
        messages, error = self.stream(method, request, token=token, timeout=timeout)
        if error is not None:
            raise error
        assert len(messages) == 1, f"{method}: {len(messages)} responses"
        return messages[0]
