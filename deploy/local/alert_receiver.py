"""A webhook receiver that records what Alertmanager delivers (docker-compose.local.yml, service alert-receiver).

POST any path: the JSON body is kept with the time it arrived. GET /alerts: every delivery so far as a JSON list of
{"received_at": unix seconds, "body": ...}. Standard library only; listens on 0.0.0.0:9095 (PORT overrides).
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_deliveries: list[dict] = []
_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        with _lock:
            _deliveries.append({"received_at": time.time(), "path": self.path, "body": body})
        self._reply(200, b'{"ok": true}')

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/") == "/alerts":
            with _lock:
                payload = json.dumps(_deliveries).encode()
            self._reply(200, payload)
        elif self.path == "/health":
            self._reply(200, b'{"status": "ok"}')
        else:
            self._reply(404, b'{"error": "not found"}')

    def _reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, fmt: str, *args) -> None:
        print(f"alert-receiver: {self.command} {self.path} {fmt % args}", flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "9095"))), Handler).serve_forever()
