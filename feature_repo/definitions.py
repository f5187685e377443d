"""Feast objects for the `feast` CLI (`feast plan` / `feast apply` in this directory).

The objects are built by football_platform.lib.feature_store.build_feast_objects, the same function the
Dagster `feast_apply` asset uses, so the CLI and the pipeline cannot register different definitions.
"""

from football_platform.lib.feature_store import FeastPaths, build_feast_objects
from football_platform.settings import get_settings

_settings = get_settings()
_objects = build_feast_objects(_settings.profile, FeastPaths.for_state_dir(_settings.state_dir))

team = _objects["team"]
home_team = _objects["home_team"]
away_team = _objects["away_team"]
team_features_source = _objects["team_features_source"]
home_team_features_source = _objects["home_team_features_source"]
away_team_features_source = _objects["away_team_features_source"]
team_ratings = _objects["team_ratings"]
team_form = _objects["team_form"]
team_schedule = _objects["team_schedule"]
home_team_ratings = _objects["home_team_ratings"]
home_team_form = _objects["home_team_form"]
home_team_schedule = _objects["home_team_schedule"]
away_team_ratings = _objects["away_team_ratings"]
away_team_form = _objects["away_team_form"]
away_team_schedule = _objects["away_team_schedule"]
match_diffs = _objects["match_diffs"]
match_outcome_v1 = _objects["match_outcome_v1"]
