"""``dbt build`` on both warehouses over real seasons, checked against published football facts.

One DuckDB file (in tmp) and one temporary PostgreSQL database are loaded with the same
slice of the real data through the ingestion library, then the dbt project is built on each
with the profile's own target. Expected values are published facts (final tables, dated
points deductions) or are recomputed here from the raw tables by a different route (pandas),
never copied from a model's output.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from football_platform.lib.loading import ingest_many, load_fixtures
from football_platform.lib.sources import open_source
from football_platform.lib.warehouse import Warehouse
from football_platform.resources.dbt_cli import dbt_env, dbt_env_from_database_url
from football_platform.settings import DBT_PROJECT_DIR
from tests.conftest import FOOTBALL_DATA, create_pg_database, drop_pg_database

DBT = Path(sys.executable).parent / "dbt"

# Both engines are built once per worker: keep the module on one xdist worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("dbt_build")

# Seasons whose final tables are published facts, plus the seasons that exercise each rule:
# 2-points-for-a-win (D1 9394), head-to-head (SP1 0607, I1 2223), points per match (F1 1920),
# dated deductions and restorations (E0 2324, E1 2122, I1 2223).
FILES: list[tuple[str, str]] = [
    ("9394", "E0"), ("0304", "E0"), ("1112", "E0"), ("1516", "E0"), ("1819", "E0"), ("2324", "E0"),
    ("2122", "E1"), ("0607", "SP1"), ("2223", "I1"), ("9394", "D1"), ("1920", "F1"),
]

# (div, season, team as the site spells it, final position, final points): published tables.
FINAL_TABLE_FACTS = [
    ("E0", "9394", "Man United", 1, 92),
    ("E0", "0304", "Arsenal", 1, 90),
    ("E0", "1112", "Man City", 1, 89),  # level with Man United, ahead on goal difference
    ("E0", "1112", "Man United", 2, 89),
    ("E0", "1516", "Leicester", 1, 81),
    ("E0", "1819", "Man City", 1, 98),
    ("E0", "1819", "Liverpool", 2, 97),
    ("E0", "2324", "Everton", 15, 40),  # after -8
    ("E0", "2324", "Nott'm Forest", 17, 32),  # after -4
    ("E0", "2324", "Luton", 18, 26),
    ("E1", "2122", "Fulham", 1, 90),
    ("E1", "2122", "Reading", 21, 41),  # after -6
    ("E1", "2122", "Derby", 23, 34),  # after -21
    ("SP1", "0607", "Real Madrid", 1, 76),  # level with Barcelona, ahead on head-to-head
    ("SP1", "0607", "Barcelona", 2, 76),
    ("I1", "2223", "Napoli", 1, 90),
    ("I1", "2223", "Juventus", 7, 62),  # after -10
    ("D1", "9394", "Bayern Munich", 1, 44),  # two points for a win
    ("D1", "9394", "Kaiserslautern", 2, 43),
    ("F1", "1920", "Paris SG", 1, 68),  # season stopped, ranked by points per match
    ("F1", "1920", "Strasbourg", 10, 38),  # 38 from 27 matches beats Angers' 39 from 28
    ("F1", "1920", "Angers", 11, 39),
]

@dataclass
class BuiltWarehouse:
    engine: str
    warehouse: Warehouse
    env: dict[str, str]
    work_dir: Path
    build: subprocess.CompletedProcess

    def query(self, sql: str) -> pd.DataFrame:
        return self.warehouse.query_df(sql)


def run_dbt(args: list[str], env: dict[str, str], work_dir: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    """The dbt CLI on the repository's project, with target and logs kept in ``work_dir``."""
    # Only the profile's variables reach dbt: a developer's DATABASE_URL must not leak in.
    inherited = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("FOOTBALL_", "DBT_")) and k != "DATABASE_URL"
    }
    # `dbt debug` writes no artifacts and refuses --target-path.
    target_path = [] if args[0] == "debug" else ["--target-path", str(work_dir / "target")]
    return subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         *target_path, "--log-path", str(work_dir / "logs"), "--no-use-colors"],
        env={**inherited, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env},
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def load_slice(warehouse: Warehouse) -> None:
    source = open_source(str(FOOTBALL_DATA))
    outcomes = ingest_many(warehouse, source, FILES)
    bad = [o for o in outcomes if o.status not in ("loaded", "unchanged")]
    assert not bad, f"ingestion failed: {bad}"
    fixtures = source.fetch_fixtures()
    assert fixtures.file is not None
    load_fixtures(warehouse, fixtures.file, None)


def _failure(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    interesting = [ln for ln in lines if any(w in ln for w in ("ERROR", "FAIL", "Error", "error"))]
    return "\n".join(interesting[-40:] or lines[-40:])


@contextmanager
def _built(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    """The real-data slice loaded and ``dbt build`` run on one engine."""
    work_dir = tmp_path_factory.mktemp(f"dbt_{engine}")
    pg_url = None
    if engine == "duckdb":
        warehouse = Warehouse(kind="duckdb", path=work_dir / "warehouse.duckdb")
        env = dbt_env("local", warehouse.path, None)
    else:
        pg_url = create_pg_database("fp_dbt")
        warehouse = Warehouse(kind="postgres", url=pg_url)
        env = dbt_env("prod", None, pg_url)
    try:
        load_slice(warehouse)
        result = run_dbt(["build"], env, work_dir)
        yield BuiltWarehouse(engine, warehouse, env, work_dir, result)
    finally:
        if pg_url:
            drop_pg_database(pg_url)


@pytest.fixture(scope="module")
def duckdb_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    with _built("duckdb", tmp_path_factory) as built:
        yield built


@pytest.fixture(scope="module")
def postgres_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    with _built("postgres", tmp_path_factory) as built:
        yield built


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest) -> BuiltWarehouse:
    """Each engine in turn: the tests every target must pass."""
    return request.getfixturevalue(f"{request.param}_built")


def final_tables(built: BuiltWarehouse) -> pd.DataFrame:
    """Final standings of every season in the slice, with the teams as the site spells them."""
    final = built.query(
        "SELECT lt.div, lt.season, m.team_source AS team, lt.position, lt.points, lt.played "
        "FROM analytics.league_table lt "
        "JOIN (SELECT DISTINCT div, season, team, team_source FROM intermediate.int_team_matches) m "
        "  ON m.div = lt.div AND m.season = lt.season AND m.team = lt.team "
        "WHERE lt.is_final_date"
    )
    return final.sort_values(["div", "season", "position"]).reset_index(drop=True)


def test_dbt_build_succeeds_with_every_test_passing(built: BuiltWarehouse) -> None:
    assert built.build.returncode == 0, _failure(built.build)
    summary = [ln for ln in built.build.stdout.splitlines() if "Done. PASS=" in ln]
    assert summary and "ERROR=0" in summary[-1] and "WARN=0" in summary[-1], summary
    # the singular football-fact tests ran (not just the generic ones)
    for name in ("assert_points_are_won_and_drawn_plus_adjustments", "assert_goals_for_equal_goals_against_per_league_season",
                 "assert_completed_seasons_have_equal_matches_per_team", "assert_known_final_standings"):
        assert f"PASS {name}" in built.build.stdout or f"{name} " in built.build.stdout, name


def test_final_tables_reproduce_published_facts(built: BuiltWarehouse) -> None:
    final = final_tables(built)
    index = final.set_index(["div", "season", "team"])
    for div, season, team, position, points in FINAL_TABLE_FACTS:
        row = index.loc[(div, season, team)]
        assert (int(row["position"]), int(row["points"])) == (position, points), (div, season, team)


def test_league_table_has_every_team_after_every_match_date(built: BuiltWarehouse) -> None:
    counts = built.query(
        "SELECT div, season, COUNT(*) AS n_rows, COUNT(DISTINCT team) AS teams, COUNT(DISTINCT as_of_date) AS dates "
        "FROM analytics.league_table GROUP BY div, season"
    )
    raw = built.query(
        "SELECT div, season, COUNT(DISTINCT match_date) AS dates, COUNT(*) AS matches FROM raw.matches GROUP BY div, season"
    )
    merged = counts.merge(raw, on=["div", "season"], suffixes=("", "_raw"))
    assert len(merged) == len(FILES)
    assert (merged["dates"] == merged["dates_raw"]).all()
    assert (merged["n_rows"] == merged["teams"] * merged["dates"]).all()
    # one row per team per match date; 20-team leagues (22 in 1993/94, 18 in the Bundesliga, 24 in E1)
    teams = dict(zip(merged["div"] + merged["season"], merged["teams"], strict=True))
    assert teams["E09394"] == 22 and teams["D19394"] == 18 and teams["E12122"] == 24 and teams["E02324"] == 20


def _adjustment_on(built: BuiltWarehouse, div: str, season: str, team: str) -> dict[dt.date, int]:
    frame = built.query(
        f"SELECT as_of_date, points_adjustment FROM analytics.league_table "
        f"WHERE div = '{div}' AND season = '{season}' AND team = '{team}' ORDER BY as_of_date"
    )
    return {pd.Timestamp(d).date(): int(p) for d, p in zip(frame["as_of_date"], frame["points_adjustment"], strict=True)}


def _expected_from(changes: list[tuple[dt.date, int]], day: dt.date) -> int:
    return sum(points for when, points in changes if when <= day)


@pytest.mark.parametrize(
    ("div", "season", "team", "changes"),
    [
        # Everton 2023/24: -10 (17 Nov 2023), reduced to -6 on appeal (26 Feb 2024), -2 more (8 Apr 2024).
        ("E0", "2324", "Everton", [(dt.date(2023, 11, 17), -10), (dt.date(2024, 2, 26), 4), (dt.date(2024, 4, 8), -2)]),
        # Juventus 2022/23: -15 (20 Jan 2023), annulled (19 Apr 2023), -10 (22 May 2023).
        ("I1", "2223", "Juventus", [(dt.date(2023, 1, 20), -15), (dt.date(2023, 4, 19), 15), (dt.date(2023, 5, 22), -10)]),
        # Derby 2021/22: -12 on entering administration (22 Sep 2021), -9 more (16 Nov 2021).
        ("E1", "2122", "Derby", [(dt.date(2021, 9, 22), -12), (dt.date(2021, 11, 16), -9)]),
    ],
)
def test_deductions_apply_from_their_effective_date(built: BuiltWarehouse, div, season, team, changes) -> None:
    by_date = _adjustment_on(built, div, season, team)
    assert by_date, f"{team} missing from {div} {season}"
    for day, adjustment in by_date.items():
        assert adjustment == _expected_from(changes, day), (team, day)


def test_head_to_head_decides_la_liga_2006_07(built: BuiltWarehouse) -> None:
    top = built.query(
        "SELECT team, position, points, goal_difference, head_to_head_applied FROM analytics.league_table "
        "WHERE div = 'SP1' AND season = '0607' AND is_final_date AND position <= 2 ORDER BY position"
    )
    assert top["team"].tolist() == ["Real Madrid", "Barcelona"]
    assert top["points"].tolist() == [76, 76]
    # Barcelona had the better goal difference: only head-to-head puts Real Madrid first.
    assert top["goal_difference"].iloc[1] > top["goal_difference"].iloc[0]
    assert top["head_to_head_applied"].astype(bool).all()


def test_points_are_two_for_a_win_in_1993_94_bundesliga(built: BuiltWarehouse) -> None:
    bayern = built.query(
        "SELECT won, drawn, points FROM analytics.league_table "
        "WHERE div = 'D1' AND season = '9394' AND team = 'Bayern Munich' AND is_final_date"
    ).iloc[0]
    assert int(bayern["points"]) == 2 * int(bayern["won"]) + int(bayern["drawn"]) == 44


def test_market_probabilities_remove_the_margin(built: BuiltWarehouse) -> None:
    odds = built.query(
        "SELECT o.home_team, o.away_team, o.period, o.selection, o.price FROM raw.odds o "
        "WHERE o.div = 'E0' AND o.season = '2324' AND o.bookmaker = 'PS' AND o.market = '1x2'"
    )
    wide = odds.pivot_table(index=["home_team", "away_team", "period"], columns="selection", values="price")
    inverse = 1 / wide[["H", "D", "A"]]
    expected = inverse.div(inverse.sum(axis=1), axis=0)
    fct = built.query(
        "SELECT home_team_source AS home_team, away_team_source AS away_team, pre_p_home, pre_p_draw, pre_p_away, "
        "close_p_home, close_p_draw, close_p_away, pre_odds_source, close_odds_source "
        "FROM analytics.fct_matches WHERE div = 'E0' AND season = '2324'"
    ).set_index(["home_team", "away_team"])
    assert len(fct) == 380
    assert set(fct["close_odds_source"]) == {"pinnacle"}
    for period, prefix in (("pre", "pre_p_"), ("close", "close_p_")):
        exp = expected.xs(period, level="period")
        got = fct[[f"{prefix}home", f"{prefix}draw", f"{prefix}away"]]
        got.columns = ["H", "D", "A"]
        diff = (got.loc[exp.index] - exp).abs().to_numpy().max()
        assert diff < 1e-9, period
    # the 1990s have no odds at all; 2003/04 has individual books only (their consensus)
    sources = built.query(
        "SELECT season, MAX(pre_odds_source) AS source, COUNT(pre_p_home) AS n FROM analytics.fct_matches "
        "WHERE div = 'E0' AND season IN ('9394', '0304') GROUP BY season"
    ).set_index("season")
    assert int(sources.loc["9394", "n"]) == 0
    assert sources.loc["0304", "source"] == "bookmaker_consensus"


def test_team_form_uses_only_earlier_matches(built: BuiltWarehouse) -> None:
    """Recompute Leicester's rolling form with pandas from raw.matches and compare every match."""
    raw = built.query(
        "SELECT match_date, home_team, away_team, fthg, ftag, home_shots, away_shots FROM raw.matches "
        "WHERE div = 'E0' AND (home_team = 'Leicester' OR away_team = 'Leicester')"
    ).sort_values("match_date").reset_index(drop=True)
    home = raw["home_team"] == "Leicester"
    raw["gf"] = raw["fthg"].where(home, raw["ftag"]).astype(float)
    raw["shots"] = raw["home_shots"].where(home, raw["away_shots"]).astype(float)
    raw["venue"] = home.map({True: "home", False: "away"})
    form = built.query(
        "SELECT match_date, venue, last5_matches, last5_goals_for_avg, venue_last5_goals_for_avg, last10_shots_for_avg "
        "FROM analytics.team_form WHERE team = 'Leicester' AND country = 'England' ORDER BY match_date"
    ).reset_index(drop=True)
    assert len(form) == len(raw) == 3 * 38  # 2003/04, 2015/16 and 2018/19 in this slice
    assert int(form["last5_matches"].iloc[0]) == 0 and pd.isna(form["last5_goals_for_avg"].iloc[0])

    def close(actual: float, expected: float) -> bool:
        return (pd.isna(actual) and pd.isna(expected)) or actual == pytest.approx(expected)

    for i in range(1, len(raw)):
        earlier = raw.iloc[:i]  # strictly before match i
        same_venue = earlier[earlier["venue"] == raw["venue"].iloc[i]]
        assert int(form["last5_matches"].iloc[i]) == min(5, i)
        assert close(form["last5_goals_for_avg"].iloc[i], earlier["gf"].tail(5).mean()), i
        assert close(form["last10_shots_for_avg"].iloc[i], earlier["shots"].tail(10).mean()), i
        assert close(form["venue_last5_goals_for_avg"].iloc[i], same_venue["gf"].tail(5).mean()), i


def test_season_summary_and_teams(built: BuiltWarehouse) -> None:
    summary = built.query("SELECT * FROM analytics.season_summary").set_index(["div", "season"])
    e0 = summary.loc[("E0", "2324")]
    assert int(e0["matches"]) == 380 and bool(e0["is_completed"]) and e0["champion"] == "Man City"
    assert e0["home_win_rate"] + e0["draw_rate"] + e0["away_win_rate"] == pytest.approx(1.0)
    assert int(summary.loc[("F1", "1920"), "matches"]) == 279  # stopped by COVID-19, not a loss
    assert not bool(summary.loc[("F1", "1920"), "all_matches_played"])
    teams = built.query("SELECT * FROM analytics.dim_teams WHERE country = 'England'").set_index("team")
    # Man United play every E0 season of the slice; Leicester only 1516 in this slice
    assert int(teams.loc["Man United", "seasons"]) == 6 and int(teams.loc["Man United", "top_flight_seasons"]) == 6
    assert teams.loc["Man United", "seasons_per_league"] == "E0:6"
    h2h = built.query(
        "SELECT * FROM analytics.head_to_head WHERE team = 'Real Madrid' AND opponent = 'Barcelona'"
    ).iloc[0]
    assert int(h2h["matches"]) == 2 and int(h2h["won"]) == 1 and int(h2h["drawn"]) == 1  # 2-0 and 3-3 in 2006/07


def test_fixtures_are_upcoming_with_stable_ids(built: BuiltWarehouse) -> None:
    fixtures = built.query("SELECT fixture_id, div, is_upcoming FROM staging.stg_fixtures")
    assert len(fixtures) > 0 and fixtures["fixture_id"].is_unique
    assert fixtures["is_upcoming"].astype(bool).all()  # the 2026 snapshot has no result in the warehouse


def test_every_model_and_column_is_described(built: BuiltWarehouse) -> None:
    """Analysts read dbt docs: every built column of every model carries a description."""
    import json

    manifest = json.loads((built.work_dir / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {"fct_matches", "league_table", "team_form", "head_to_head", "season_summary", "dim_teams"} <= set(models)
    built_columns = built.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('staging', 'intermediate', 'analytics')"
    )
    missing = []
    for name, node in models.items():
        assert node["description"].strip(), f"model {name} has no description"
        documented = {c for c, meta in node["columns"].items() if meta.get("description", "").strip()}
        actual = set(built_columns.loc[built_columns["table_name"] == name, "column_name"])
        assert actual, f"model {name} was not built"
        missing += [f"{name}.{c}" for c in sorted(actual - documented)]
    assert not missing, missing


@pytest.mark.postgres
def test_engines_agree_on_final_tables(duckdb_built: BuiltWarehouse, postgres_built: BuiltWarehouse) -> None:
    duck, pg = final_tables(duckdb_built), final_tables(postgres_built)
    assert len(duck) > 200  # every team of the eleven seasons
    pd.testing.assert_frame_equal(duck.astype(str), pg.astype(str))


@pytest.mark.postgres
def test_prod_profile_reads_database_url_alone(postgres_built: BuiltWarehouse) -> None:
    """With only DATABASE_URL set, profiles.yml still finds the database (its fallback parser)."""
    built = postgres_built
    url = built.warehouse.url
    assert url is not None
    result = run_dbt(["debug", "--target", "prod"], {"DATABASE_URL": url}, built.work_dir)
    assert result.returncode == 0, _failure(result)
    assert "All checks passed" in result.stdout
    assert dbt_env_from_database_url(url)["FOOTBALL_PG_DBNAME"] in result.stdout


def test_incremental_build_rebuilds_only_changed_seasons(duckdb_built: BuiltWarehouse, tmp_path: Path) -> None:
    """Correct one score: the next build rebuilds that season only, and ends equal to a full rebuild.

    On DuckDB, where copying the built warehouse is cheap; PostgreSQL runs the same incremental SQL.
    """
    built = duckdb_built
    assert built.warehouse.path is not None
    incremental = Warehouse(kind="duckdb", path=tmp_path / "incremental" / "warehouse.duckdb")
    rebuilt = Warehouse(kind="duckdb", path=tmp_path / "rebuilt" / "warehouse.duckdb")
    fingerprints = "SELECT div, season, season_fingerprint FROM analytics.league_table GROUP BY ALL"
    before = built.query(fingerprints)
    # Leicester 1-1 Man United (28 Nov 2015) becomes a Leicester win: +2 points for Leicester, -1 for United.
    for copy in (incremental, rebuilt):
        assert copy.path is not None
        copy.path.parent.mkdir()
        shutil.copy(built.warehouse.path, copy.path)
        with copy.connect() as conn, conn.transaction():
            conn.execute(
                # the same (later) timestamp in both copies, as one ingestion would write
                "UPDATE raw.matches SET fthg = 2, ftag = 1, ftr = 'H', updated_at = TIMESTAMPTZ '2030-01-01 00:00:00+00' "
                "WHERE div = 'E0' AND season = '1516' AND home_team = 'Leicester' AND away_team = 'Man United'"
            )
    # `run`, not `build`: the published-facts tests would rightly fail on the edited score.
    models = ["--select", "+league_table", "+team_form", "+fct_matches"]
    for copy, extra in ((incremental, []), (rebuilt, ["--full-refresh"])):
        assert copy.path is not None
        result = run_dbt(["run", *models, *extra], dbt_env("local", copy.path, None), copy.path.parent)
        assert result.returncode == 0, _failure(result)

    after = incremental.query_df(fingerprints)
    changed = before.merge(after, on=["div", "season"], suffixes=("_before", "_after"))
    changed = changed[changed["season_fingerprint_before"] != changed["season_fingerprint_after"]]
    assert changed[["div", "season"]].values.tolist() == [["E0", "1516"]]
    final = incremental.query_df(
        "SELECT team, points FROM analytics.league_table WHERE div = 'E0' AND season = '1516' AND is_final_date"
    ).set_index("team")["points"]
    assert int(final["Leicester"]) == 81 + 2 and int(final["Man United"]) == 66 - 1
    score = incremental.query_df(
        "SELECT home_goals, away_goals, result FROM analytics.fct_matches "
        "WHERE div = 'E0' AND season = '1516' AND home_team = 'Leicester' AND away_team = 'Man United'"
    ).iloc[0]
    assert (int(score["home_goals"]), int(score["away_goals"]), score["result"]) == (2, 1, "H")
    # The incremental result is exactly what a full rebuild gives.
    for table, key in (("league_table", "div, season, as_of_date, team"), ("team_form", "match_id, team"),
                       ("fct_matches", "match_id")):
        query = f"SELECT * FROM analytics.{table} ORDER BY {key}"
        pd.testing.assert_frame_equal(incremental.query_df(query), rebuilt.query_df(query), check_exact=False)


def test_dagster_materialises_the_dbt_assets(duckdb_built: BuiltWarehouse, tmp_path: Path) -> None:
    """The Dagster op: assets materialise, dbt tests report as passing checks, row counts and schemas stream in.

    One engine is enough for the Dagster wiring; dbt itself is tested on both.
    """
    built = duckdb_built
    import dagster as dg

    from football_platform.defs.transform import build_dbt_assets
    from football_platform.resources.dbt_cli import build_dbt_resource
    from football_platform.settings import Settings

    assert built.warehouse.path is not None
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse.path, copy)
    settings = Settings(profile="local", warehouse_path=copy)
    # league_table and everything upstream of it: every layer, a seed, an incremental model.
    selection = dg.AssetSelection.assets(dg.AssetKey(["analytics", "league_table"])).upstream()
    result = dg.materialize(
        [build_dbt_assets("duckdb")],
        selection=selection,
        resources={"dbt": build_dbt_resource(settings)},
        run_config={"ops": {"football_dbt_models": {"config": {"full_refresh": True}}}},
        raise_on_error=False,
    )
    assert result.success
    materialised = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    assert {"analytics/league_table", "intermediate/int_team_matches", "staging/stg_matches",
            "reference/points_adjustments"} <= set(materialised)
    assert "analytics/fct_matches" not in materialised  # only the selection ran
    metadata = materialised["analytics/league_table"].materialization.metadata
    row_count = built.query("SELECT COUNT(*) AS n FROM analytics.league_table")["n"].iloc[0]
    assert metadata["dagster/row_count"].value == row_count
    columns = {c.name for c in metadata["dagster/column_schema"].value.columns}
    assert {"div", "season", "as_of_date", "team", "position", "points"} <= columns
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 20
    failed = [e.check_name for e in evaluations if not e.passed]
    assert not failed, failed
    assert any(e.check_name == "assert_known_final_standings" for e in evaluations)
