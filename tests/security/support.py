"""Helpers for the security tests: a TCP relay that records what clients send."""

from __future__ import annotations

import socket
import threading
from typing import Self


class RecordingRelay:
    """Listens on 127.0.0.1 (a free port), relays each connection to `upstream`
    ("host:port") and records every byte clients send, so a test can see what a client
    (librdkafka) sent to this address: a SASL PLAIN password travels in clear.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self.connections = 0
        self._sent = bytearray()
        self._lock = threading.Lock()
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._sent)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    with self._lock:
                        self._sent += data
                dst.sendall(data)
        except OSError:
            pass  # the other side closed: this direction is done
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already shut down by the other direction

    def close(self) -> None:
        self._closed = True
        self._server.close()
        with self._lock:
            for s in self._sockets:
                s.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def tc3_headers(
    action: str,
    body: bytes,
    host: str,
    secret_id: str,
    secret_key: str,
    *,
    signed: tuple[str, ...] = ("content-type", "host"),
    unsigned_payload: bool = False,
    timestamp: int | None = None,
) -> dict[str, str]:
    """TC3-HMAC-SHA256 headers for a POST to "/", written from Tencent Cloud's description
    (independent of the server's code), with the choices an attacker or an unusual client
    makes: which headers are signed, and UNSIGNED-PAYLOAD."""
    import hashlib
    import hmac
    import time
    from datetime import UTC, datetime

    ts = int(time.time()) if timestamp is None else timestamp
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    headers = {
        "content-type": "application/json",
        "host": host,
        "x-tc-action": action,
        "x-tc-version": "2019-08-19",
        "x-tc-timestamp": str(ts),
    }
    payload = b"UNSIGNED-PAYLOAD" if unsigned_payload else body
    if unsigned_payload:
        headers["x-tc-content-sha256"] = "UNSIGNED-PAYLOAD"
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name].lower()}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/ckafka/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret_key).encode(), date), "ckafka"), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={sig}"
    )
    return headers
