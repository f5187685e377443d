"""Import heavy modules in a background thread while the process waits on something else.

A run executed in one process (the command line, the replay, ``benchmarks.daily``) spends seconds waiting for the
dbt subprocess, then seconds importing Feast (~7 s), MLflow and CatBoost for the steps after it. Importing them in a
daemon thread during that wait overlaps the two on the second core. A module the thread has not finished importing
is simply waited for by the step that needs it (Python's per-module import lock); a failed background import is
forgotten and the step imports it itself, as it always did.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

_started: set[str] = set()
_lock = threading.Lock()


def warm_imports(modules: Iterable[str]) -> threading.Thread | None:
    """Start importing ``modules`` (each once per process) in a daemon thread; returns it, or None if nothing new."""
    with _lock:
        todo = [m for m in modules if m not in _started]
        _started.update(todo)
    if not todo:
        return None

    def run() -> None:
        for name in todo:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - the step that needs it imports it again and reports
                log.debug("background import of %s failed: %s", name, exc)

    thread = threading.Thread(target=run, name="warm-imports", daemon=True)
    thread.start()
    return thread
