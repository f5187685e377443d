"""Features domain: pre-match features, team state, Feast registry/online store, training set."""

import dagster as dg

from football_platform.defs.features.assets import (
    feast_apply,
    feast_online_materialization,
    match_features,
    team_state,
    training_set,
)

defs = dg.Definitions(assets=[match_features, team_state, feast_apply, feast_online_materialization, training_set])
