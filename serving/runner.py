"""Running the API with uvicorn: one process, or ``workers`` forked processes sharing one listening socket.

Each worker builds its own app (own model copy, own Redis pool); forking before anything heavy is loaded
keeps the options (rate limit, CORS) in plain Python objects instead of environment variables. With several
workers, metrics use prometheus_client's multiprocess mode so that ``/metrics`` from any worker shows the whole
server: under ``PROMETHEUS_MULTIPROC_DIR`` when set (its old sample files are removed at start), else under a
temporary directory removed at exit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile

from football_platform.settings import Settings
from serving.app import ServingOptions, configure_logging, create_app
from serving.metrics import enable_multiprocess, multiprocess_dir

log = logging.getLogger("serving.runner")


def _serve(settings: Settings, options: ServingOptions, sock: socket.socket | None, host: str, port: int,
           log_level: str) -> None:
    import uvicorn

    configure_logging(log_level.upper())
    app = create_app(settings, options)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, log_config=None,
                            loop="uvloop", http="httptools", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    server.run(sockets=[sock] if sock is not None else None)


def run(settings: Settings, options: ServingOptions, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
        log_level: str = "info") -> int:
    if workers <= 1:
        _serve(settings, options, None, host, port, log_level)
        return 0
    own_dir = None if multiprocess_dir() else tempfile.mkdtemp(prefix="football-api-metrics-")
    enable_multiprocess(multiprocess_dir() or own_dir)
    try:
        return _run_workers(settings, options, host, port, workers, log_level)
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)


def _run_workers(settings: Settings, options: ServingOptions, host: str, port: int, workers: int,
                 log_level: str) -> int:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_serve, args=(settings, options, sock, host, port, log_level), daemon=False)
             for _ in range(workers)]
    for p in procs:
        p.start()

    def stop(signum, frame):  # noqa: ARG001
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    return max((p.exitcode or 0) for p in procs)
