"""A real HTTP server on a free port that receives webhooks for tests (on localhost, or on
the address of a host of the cross-host test): it keeps every request (header names
lower-cased, as HTTP compares them) and answers 204, or a chosen error status while told to
fail."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class Receiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._fail: dict[str, int] = {}  # path -> failures still to answer; -1: forever
        self._slow: dict[str, float] = {}  # path -> seconds to wait before answering
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver._answer(self.path)
                time.sleep(receiver._slow.get(self.path, 0.0))
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {name.lower(): value for name, value in self.headers.items()},
                            body,
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def fail(self, path: str, times: int) -> None:
        """Answer 503 to the next `times` requests to `path` (-1: to all of them)."""
        with self._lock:
            self._fail[path] = times

    def slow(self, path: str, seconds: float) -> None:
        """Wait `seconds` before answering requests to `path` (a receiver under load)."""
        with self._lock:
            self._slow[path] = seconds

    def _answer(self, path: str) -> int:
        with self._lock:
            left = self._fail.get(path, 0)
            if left == 0:
                return 204
            if left > 0:
                self._fail[path] = left - 1
            return 503

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
