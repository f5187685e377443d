"""The yardstick of ``benchmarks.serving``: a bare FastAPI route returning constant JSON, served exactly like the API
(uvicorn, uvloop, httptools, the same workers), so that ``POST /predict`` can be given as a ratio of it measured in
the same run on the same machine.

    .venv/bin/uvicorn benchmarks.serving_bare:app --workers 2 --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}
