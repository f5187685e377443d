"""A small constant-rate HTTP load generator (wrk2's idea in asyncio; Debian has wrk but not wrk2).

Request ``i`` is due at ``start + i / rate`` whatever happened to earlier ones; its latency is measured from that
due time to the last byte of the answer, so a stalled server is charged for the requests that queued behind the
stall (no coordinated omission). Requests go over ``connections`` keep-alive HTTP/1.1 connections; a due request
waits for a free connection and that wait counts too. Python costs tens of microseconds per request: fine up to
a few thousand requests per second on loopback, and the timer's own lateness is charged to the server (the
figures err on the slow side).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np


@dataclass(frozen=True)
class RateResult:
    target_rate: float
    achieved_rate: float  # answered requests / (last answer - start)
    requests: int
    errors: int  # non-2xx answers and connection failures
    p50_ms: float
    p99_ms: float
    max_ms: float


def _request_bytes(method: str, url: str, headers: dict[str, str], body: bytes | None) -> bytes:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _run(url: str, rate: float, duration: float, connections: int, requests: Sequence[bytes]) -> RateResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    total = int(rate * duration)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies = np.full(total, np.nan)
    errors = 0
    last_done = 0.0

    async def connection() -> None:
        nonlocal errors, last_done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                i, due = item
                try:
                    writer.write(requests[i % len(requests)])
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                done = time.perf_counter()
                latencies[i] = done - due
                last_done = max(last_done, done)
                if not 200 <= status < 300:
                    errors += 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # connections open before the clock starts
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    done = latencies[~np.isnan(latencies)] * 1000
    return RateResult(target_rate=rate, achieved_rate=len(done) / max(last_done - start, 1e-9), requests=len(done),
                      errors=errors, p50_ms=float(np.percentile(done, 50)), p99_ms=float(np.percentile(done, 99)),
                      max_ms=float(done.max()))


def constant_rate(url: str, rate: float, duration: float, connections: int = 8, method: str = "GET",
                  headers: dict[str, str] | None = None, bodies: Sequence[bytes | None] = (None,)) -> RateResult:
    """Send ``rate`` requests per second for ``duration`` seconds (cycling through ``bodies``); latency
    percentiles from each request's due time."""
    requests = [_request_bytes(method, url, headers or {}, b) for b in bodies]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    return runner(_run(url, rate, duration, connections, requests))
