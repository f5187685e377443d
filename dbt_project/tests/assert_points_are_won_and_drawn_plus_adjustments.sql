{#- Points = points_for_win * won + drawn (3 for a win in every league from 1995/96), plus the
    official adjustments in force. Checked on every row of every league table. -#}
{{ config(meta={'dagster': {'ref': {'name': 'league_table'}}}) }}

with league_table as (
    select * from {{ ref('league_table') }}
),

rules as (
    select * from {{ ref('league_rules') }}
)

select lt.div, lt.season, lt.as_of_date, lt.team, lt.points, lt.won, lt.drawn, lt.points_adjustment
from league_table as lt
inner join rules as r
    on r.div = lt.div and lt.season_start_year between r.from_year and coalesce(r.to_year, 9999)
where lt.points <> r.points_for_win * lt.won + lt.drawn + lt.points_adjustment
   or (lt.season_start_year >= 1995 and lt.points_earned <> 3 * lt.won + lt.drawn)
