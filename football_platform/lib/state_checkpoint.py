"""Incremental team states: the feature engine checkpointed after the last processed match day.

:func:`~football_platform.lib.features.team_state_after` walks the whole history every time (about 30 s on six
leagues since 1993/94), although a day adds a few dozen results. :func:`team_state_incremental` keeps the engine
(Elo, pi-ratings, Dixon-Coles, form, calendar) as it stood after the last match day it processed, and on the next
call feeds it only the later days: the engine is sequential by day, so resuming it gives exactly the state a full
recompute gives (``tests/unit/test_state_checkpoint.py`` asserts equality on every column).

The checkpoint is only a cache. It is used when everything it was built from is unchanged, else the states are
recomputed from scratch and a new checkpoint replaces it:

- the processed history: a hash of every played match up to the checkpoint's last day, in the columns the engine
  reads (key, goals, shots) — a corrected older result, a late row or a deleted one forces a full recompute;
- the league memberships the engine has used (team lists of every season already started; promoted teams' priors
  and Dixon-Coles' member lists come from them);
- the feature parameters and the engine's code (a hash of ``lib/features.py`` and ``lib/ratings/*.py``), so a
  deployment that changes the rating code never resumes an engine built by the old code.

The file is a pickle written by the platform itself under its state directory (never read from elsewhere).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from football_platform.lib.features import (
    FeatureEngine,
    FeatureParams,
    advance_engine,
    states_from_engine,
)
from football_platform.lib.ratings._common import REQUIRED_COLUMNS, prepare_matches, season_team_sets
from football_platform.lib.ratings._driver import EXTRA_COLUMNS
from football_platform.lib.seasons import season_start_year

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
_HASHED_COLUMNS = (*REQUIRED_COLUMNS, *EXTRA_COLUMNS)
_ENGINE_SOURCES = ("features.py", "ratings/_common.py", "ratings/_driver.py", "ratings/elo.py", "ratings/pi.py",
                   "ratings/dixon_coles.py", "seasons.py")


def engine_fingerprint(params: FeatureParams) -> str:
    """The feature parameters and the source of the engine's code: a checkpoint built otherwise is not resumed."""
    digest = hashlib.sha256(repr(params).encode())
    root = Path(__file__).resolve().parent
    try:
        for name in _ENGINE_SOURCES:
            digest.update(name.encode())
            digest.update((root / name).read_bytes())
    except OSError:  # no sources to fingerprint (an unusual install): never resume, always recompute
        return ""
    return digest.hexdigest()


def history_hash(frame: pd.DataFrame) -> str:
    """Hash of a prepared (sorted) match frame in the columns the engine reads."""
    cols = [c for c in _HASHED_COLUMNS if c in frame.columns]
    digest = hashlib.sha256(",".join(cols).encode())
    digest.update(str(len(frame)).encode())
    if len(frame):
        digest.update(pd.util.hash_pandas_object(frame[cols], index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclasses.dataclass
class EngineCheckpoint:
    """The engine after every match up to ``last_date`` (before the end-of-history steps of the state rows)."""

    format: int
    fingerprint: str
    last_date: pd.Timestamp
    n_matches: int
    history: str
    team_sets: dict[tuple[str, str], frozenset[str]]
    engine: FeatureEngine


@dataclasses.dataclass(frozen=True)
class IncrementalInfo:
    """How the states were obtained: ``mode`` is ``incremental`` or ``full``; ``reason`` says why a full
    recompute was needed; ``new_matches`` the matches fed to the engine this time."""

    mode: str
    reason: str
    new_matches: int
    checkpoint_date: str | None

    def as_metadata(self) -> dict[str, Any]:
        return {"state_mode": self.mode, "state_reason": self.reason, "state_new_matches": self.new_matches,
                "state_checkpoint_date": self.checkpoint_date or ""}


def _started_seasons_match(engine: FeatureEngine, before: dict, now: dict) -> bool:
    """The team lists the engine may have read (every season up to the latest one it has started) are unchanged."""
    if not engine.season_of:
        return before == now
    latest = max(season_start_year(s) for s in engine.season_of.values())
    keys = {k for k in (*before, *now) if season_start_year(k[1]) <= latest}
    return all(before.get(k) == now.get(k) for k in keys)


def load_checkpoint(path: Path) -> EngineCheckpoint | None:
    try:
        with open(path, "rb") as handle:
            checkpoint = pickle.load(handle)  # noqa: S301 - our own file under the platform's state directory
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a broken cache is recomputed, never fatal
        log.warning("team-state checkpoint %s unreadable (%s): full recompute", path, type(exc).__name__)
        return None
    return checkpoint if isinstance(checkpoint, EngineCheckpoint) else None


def save_checkpoint(path: Path, checkpoint: EngineCheckpoint) -> None:
    """Atomic write (a crash never leaves half a checkpoint behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(checkpoint, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _resumable(checkpoint: EngineCheckpoint | None, fingerprint: str, frame: pd.DataFrame,
               team_sets: dict) -> tuple[bool, str]:
    if checkpoint is None:
        return False, "no checkpoint"
    if not fingerprint or checkpoint.format != CHECKPOINT_FORMAT or checkpoint.fingerprint != fingerprint:
        return False, "feature parameters or engine code changed"
    old = frame[frame["match_date"] <= checkpoint.last_date]
    if len(old) != checkpoint.n_matches or history_hash(old) != checkpoint.history:
        return False, f"history up to {checkpoint.last_date.date()} changed"
    if not _started_seasons_match(checkpoint.engine, checkpoint.team_sets, team_sets):
        return False, "team lists of a started season changed"
    return True, ""


def team_state_incremental(
    matches: pd.DataFrame,
    upcoming: pd.DataFrame | None,
    path: Path | str,
    params: FeatureParams | None = None,
) -> tuple[pd.DataFrame, IncrementalInfo]:
    """:func:`~football_platform.lib.features.team_state_after` (same arguments, same frame), resuming the
    engine checkpointed at ``path`` when it is still valid, and leaving the new checkpoint there."""
    params = params or FeatureParams()
    path = Path(path)
    frame = prepare_matches(matches)
    upcoming_prepared = prepare_matches(upcoming, require_goals=False) if upcoming is not None else None
    team_sets = season_team_sets(frame, upcoming_prepared)
    fingerprint = engine_fingerprint(params)
    checkpoint = load_checkpoint(path)
    usable, reason = _resumable(checkpoint, fingerprint, frame, team_sets)
    if usable:
        assert checkpoint is not None
        engine = checkpoint.engine
        engine.set_team_sets(team_sets)
        new = frame[frame["match_date"] > checkpoint.last_date]
        info = IncrementalInfo("incremental", "", len(new), str(checkpoint.last_date.date()))
    else:
        engine = FeatureEngine(params, team_sets)
        new = frame
        info = IncrementalInfo("full", reason, len(new), None)
    if len(new):
        advance_engine(engine, new, params)
    if len(frame) and (not usable or len(new)):
        last = pd.Timestamp(frame["match_date"].max())
        save_checkpoint(path, EngineCheckpoint(CHECKPOINT_FORMAT, fingerprint, last, len(frame), history_hash(frame),
                                               team_sets, engine))
    return states_from_engine(engine, frame, upcoming_prepared), info
