"""A real HTTP server on 127.0.0.1 that serves a folder in football-data.co.uk's layout.

It speaks ETag / If-None-Match like the site, and can be told to fail a path a
few times with 503 (to exercise retries) or to answer 404 (an unpublished season).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FootballDataServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.fail_times: dict[str, int] = {}  # path -> how many 503s before serving
        self.overrides: dict[str, bytes] = {}  # path -> body served instead of the file
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = self.path.split("?", 1)[0]
                server.requests[path] += 1
                server.user_agents.add(self.headers.get("User-Agent", ""))
                if server.fail_times.get(path, 0) > 0:
                    server.fail_times[path] -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                body = server.overrides.get(path)
                if body is None:
                    file = (server.root / path.lstrip("/")).resolve()
                    if not str(file).startswith(str(server.root.resolve())) or not file.is_file():
                        self.send_response(404)
                        self.end_headers()
                        return
                    body = file.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    server.not_modified[path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FootballDataServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
