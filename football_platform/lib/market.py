"""Bookmaker odds -> probabilities (margin removal) and choice of the odds a model may use.

Pre-match odds (collected days before kick-off) are legitimate model inputs; closing odds are the
benchmark a model is scored against and must never be a model input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# Overround 1/H + 1/D + 1/A of a sane 1X2 triple. Below 1.0 is an arbitrage (a data error); above
# ~1.2 even the 1990s high-street books were not that greedy, so the triple is a typo.
OVERROUND_RANGE = (1.0, 1.2)

# Preference order of the sources for one "best available" price (site column prefixes).
# Before 2005/06 there is no market average; fall back on single books (2000/01-2001/02 lack B365).
PRE_1X2_SOURCES = ("PS", "Avg", "BbAv", "B365", "BW", "IW", "WH", "VC", "LB", "GB", "SB")
CLOSE_1X2_SOURCES = ("PSC", "AvgC")
PRE_OU25_SOURCES = (("P>2.5", "P<2.5"), ("Avg>2.5", "Avg<2.5"), ("BbAv>2.5", "BbAv<2.5"), ("B365>2.5", "B365<2.5"))

# Long-form bookmaker names (parser output) in preference order.
LONG_PRE_1X2 = PRE_1X2_SOURCES
LONG_CLOSE_1X2 = ("PS", "Avg")
LONG_PRE_OU25 = ("PS", "P", "Avg", "BbAv", "B365")


def _as_odds(odds: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    o = np.asarray(odds, dtype=float)
    if o.ndim == 1:
        o = o[None, :]
    if o.ndim != 2:
        raise ValueError(f"odds must be an (n, k) array of decimal prices, got shape {o.shape}")
    return o


def overround(odds: np.ndarray) -> np.ndarray:
    """Sum of inverse prices per row (1.0 = fair book). NaN where any price is missing or <= 1."""
    o = _as_odds(odds)
    bad = ~(o > 1.0).all(axis=1)  # NaN compares False, so missing counts as bad
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (1.0 / o).sum(axis=1)
    s[bad] = np.nan
    return s


def valid_triples(odds: np.ndarray, overround_range: tuple[float, float] = OVERROUND_RANGE) -> np.ndarray:
    """Boolean per row: every price > 1 and the overround inside ``overround_range``."""
    s = overround(odds)
    return (s >= overround_range[0]) & (s <= overround_range[1])


def implied_probabilities(odds: np.ndarray) -> np.ndarray:
    """Basic normalisation: p_i = (1/o_i) / sum_j (1/o_j). Rows with a missing or invalid price are NaN."""
    o = _as_odds(odds)
    s = overround(o)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (1.0 / o) / s[:, None]
    p[np.isnan(s)] = np.nan
    return p


def shin_probabilities(odds: np.ndarray, tol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """Shin's (1993) method: the margin comes from insider trading of share z, which inflates longshots more.

    With pi_i = 1/o_i and beta = sum pi_i, p_i = (sqrt(z^2 + 4 (1 - z) pi_i^2 / beta) - z) / (2 (1 - z)),
    and z in [0, 1) is chosen so that sum p_i = 1 (Jullien & Salanie 1994 closed form; bisection on z).
    A fair book (beta = 1) gives z = 0 and p = pi. Invalid rows are NaN.
    """
    o = _as_odds(odds)
    beta = overround(o)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = 1.0 / o
    out = np.full(o.shape, np.nan)
    ok = ~np.isnan(beta)
    if not ok.any():
        return out
    pi_ok, beta_ok = pi[ok], beta[ok]

    def probs(z: np.ndarray) -> np.ndarray:
        zz = z[:, None]
        return (np.sqrt(zz**2 + 4 * (1 - zz) * pi_ok**2 / beta_ok[:, None]) - zz) / (2 * (1 - zz))

    # sum p(z) decreases in z; at z = 0 every p_i = pi_i / sqrt(beta), summing to sqrt(beta) >= 1 iff the book has a margin.
    lo = np.zeros(pi_ok.shape[0])
    hi = np.full(pi_ok.shape[0], 0.999)
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        too_big = probs(mid).sum(axis=1) > 1.0
        lo = np.where(too_big, mid, lo)
        hi = np.where(too_big, hi, mid)
        if np.max(hi - lo) < tol:
            break
    z = np.where(beta_ok <= 1.0, 0.0, (lo + hi) / 2)
    p = probs(z)
    out[ok] = p / p.sum(axis=1, keepdims=True)  # remove the residual bisection error
    return out


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _first_valid(
    candidates: list[np.ndarray], n: int, check: bool = True
) -> np.ndarray:
    """Row-wise first candidate (n, k) array whose row is a valid book."""
    out = np.full((n, candidates[0].shape[1] if candidates else 3), np.nan)
    filled = np.zeros(n, dtype=bool)
    for arr in candidates:
        ok = valid_triples(arr) if check and arr.shape[1] == 3 else (arr > 1.0).all(axis=1)
        take = ok & ~filled
        out[take] = arr[take]
        filled |= take
    return out


def select_wide_odds(frame: pd.DataFrame) -> pd.DataFrame:
    """From the site's wide columns pick the contract odds columns.

    Returns a frame aligned to ``frame`` with ``odds_pre_h/d/a`` (Pinnacle ``PSH``, else market average
    ``AvgH``/``BbAvH``, else ``B365H``; each triple must be a sane book), ``odds_pre_over25/under25`` and
    ``odds_close_h/d/a`` (``PSCH``, else ``AvgCH``). Missing columns simply yield NaN.
    """
    n = len(frame)
    pre = _first_valid([np.column_stack([_numeric(frame, f"{s}{x}") for x in "HDA"]) for s in PRE_1X2_SOURCES], n)
    close = _first_valid(
        [np.column_stack([_numeric(frame, f"{s}{x}") for x in "HDA"]) for s in CLOSE_1X2_SOURCES], n
    )
    ou = _first_valid([np.column_stack([_numeric(frame, o), _numeric(frame, u)]) for o, u in PRE_OU25_SOURCES], n)
    return pd.DataFrame(
        {
            "odds_pre_h": pre[:, 0],
            "odds_pre_d": pre[:, 1],
            "odds_pre_a": pre[:, 2],
            "odds_pre_over25": ou[:, 0],
            "odds_pre_under25": ou[:, 1],
            "odds_close_h": close[:, 0],
            "odds_close_d": close[:, 1],
            "odds_close_a": close[:, 2],
        },
        index=frame.index,
    )


def select_long_odds(odds: pd.DataFrame, key: Sequence[str] = ("div", "season", "home_team", "away_team")) -> pd.DataFrame:
    """Same choice as :func:`select_wide_odds` from the parser's long form.

    ``odds`` has columns ``key + bookmaker, market ('1x2'|'ou25'|'ah'), period ('pre'|'close'),
    selection ('H','D','A' | 'over','under'), price``. Returns one row per match key with the eight
    ``odds_*`` contract columns.
    """
    key = list(key)
    if odds.empty:
        return pd.DataFrame(columns=[*key, *select_wide_odds(pd.DataFrame(index=[])).columns])
    wide = odds.pivot_table(
        index=key, columns=["market", "period", "bookmaker", "selection"], values="price", aggfunc="first"
    )
    frame = pd.DataFrame(index=wide.index)

    def grab(market: str, period: str, book: str, sels: Sequence[str]) -> np.ndarray:
        cols = []
        for sel in sels:
            col = (market, period, book, sel)
            cols.append(wide[col].to_numpy(dtype=float) if col in wide.columns else np.full(len(wide), np.nan))
        return np.column_stack(cols)

    n = len(wide)
    pre = _first_valid([grab("1x2", "pre", b, "HDA") for b in LONG_PRE_1X2], n)
    close = _first_valid([grab("1x2", "close", b, "HDA") for b in LONG_CLOSE_1X2], n)
    ou = _first_valid([grab("ou25", "pre", b, ("over", "under")) for b in LONG_PRE_OU25], n)
    for name, arr, j in (
        ("odds_pre_h", pre, 0), ("odds_pre_d", pre, 1), ("odds_pre_a", pre, 2),
        ("odds_pre_over25", ou, 0), ("odds_pre_under25", ou, 1),
        ("odds_close_h", close, 0), ("odds_close_d", close, 1), ("odds_close_a", close, 2),
    ):
        frame[name] = arr[:, j]
    return frame.reset_index()
