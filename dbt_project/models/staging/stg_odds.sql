{#- Bookmaker prices per match, bookmaker, market, period ('pre' = known before kick-off,
    'close' = last price before kick-off) and selection, keyed by match_id. A view: the long
    table is large and marts read only slices of it. -#}
with odds as (
    select * from {{ source('raw', 'odds') }}
),

matches as (
    select match_id, div, season, match_date, home_team_source, away_team_source
    from {{ ref('stg_matches') }}
)

select
    matches.match_id,
    odds.div,
    odds.season,
    matches.match_date,
    {{ odds_price_columns('odds') }}
from odds
inner join matches
    on matches.div = odds.div
    and matches.season = odds.season
    and matches.home_team_source = odds.home_team
    and matches.away_team_source = odds.away_team
