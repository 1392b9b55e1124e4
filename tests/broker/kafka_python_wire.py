"""One connection to a broker speaking kafka-python's request and response classes, every API
version they know, flexible ones included: for the tests that check API versions and error
codes that clients hide behind retries.

    w = Wire(bootstrap)
    r = w.call(JoinGroupRequest, JoinGroupResponse, 9, group_id=..., ...)

`send` and `receive` split a call, for requests the broker answers later (a JoinGroup waits
for the rebalance); responses come back in the order the requests were sent.
"""

from __future__ import annotations

import socket
import struct


class Wire:
    def __init__(self, bootstrap: str, client_id: str = "tern-tests"):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.client_id = client_id
        self.correlation = 0

    def close(self):
        self.sock.close()

    def call(self, request_class, response_class, version: int, **fields):
        self.send(request_class, version, **fields)
        return self.receive(response_class, version)

    def send(self, request_class, version: int, **fields) -> None:
        self.correlation += 1
        req = request_class[version](**fields)
        req.with_header(correlation_id=self.correlation, client_id=self.client_id)
        self.sock.sendall(req.encode(header=True, framed=True))

    def receive(self, response_class, version: int):
        size = struct.unpack(">i", self._exactly(4))[0]
        payload = self._exactly(size)
        return response_class.decode(payload, version=version, header=True)

    def _exactly(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return bytes(buf)
