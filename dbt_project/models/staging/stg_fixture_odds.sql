{{ config(materialized="table") }}

{#- Pre-match prices of the fixtures (from the same snapshot as stg_fixtures), keyed by fixture_id. -#}
with odds as (
    select * from {{ source('raw', 'fixture_odds') }}
),

fixtures as (
    select fixture_id, div, match_date, home_team_source, away_team_source, snapshot_date
    from {{ ref('stg_fixtures') }}
)

select
    fixtures.fixture_id,
    odds.div,
    fixtures.match_date,
    {{ odds_price_columns('odds') }},
    cast(odds.snapshot_date as date) as snapshot_date
from odds
inner join fixtures
    on fixtures.div = odds.div
    and fixtures.home_team_source = odds.home_team
    and fixtures.away_team_source = odds.away_team
    and fixtures.match_date = cast(odds.match_date as date)
    and fixtures.snapshot_date = cast(odds.snapshot_date as date)
