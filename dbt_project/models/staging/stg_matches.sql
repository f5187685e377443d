{{ config(materialized="table") }}

{#- One row per played match: typed, renamed, team names canonicalised through the alias seed. -#}
with matches as (
    select * from {{ source('raw', 'matches') }}
),

aliases as (
    select div, source_name, canonical_name from {{ ref('team_aliases') }}
),

named as (
    select
        m.*,
        {{ canonical_team('home_alias', 'm.home_team') }} as home_team_canonical,
        {{ canonical_team('away_alias', 'm.away_team') }} as away_team_canonical
    from matches as m
    left join aliases as home_alias
        on home_alias.div = m.div and home_alias.source_name = m.home_team
    left join aliases as away_alias
        on away_alias.div = m.div and away_alias.source_name = m.away_team
)

select
    {{ match_key('div', 'season', 'home_team_canonical', 'away_team_canonical') }} as match_id,
    div,
    season,
    {{ season_start_year('season') }} as season_start_year,
    cast(match_date as date) as match_date,
    kickoff_time,
    home_team_canonical as home_team,
    away_team_canonical as away_team,
    home_team as home_team_source,
    away_team as away_team_source,
    cast(fthg as integer) as home_goals,
    cast(ftag as integer) as away_goals,
    ftr as result,
    cast(hthg as integer) as home_goals_half_time,
    cast(htag as integer) as away_goals_half_time,
    htr as result_half_time,
    referee,
    cast(attendance as integer) as attendance,
    cast(home_shots as integer) as home_shots,
    cast(away_shots as integer) as away_shots,
    cast(home_shots_on_target as integer) as home_shots_on_target,
    cast(away_shots_on_target as integer) as away_shots_on_target,
    cast(home_hit_woodwork as integer) as home_hit_woodwork,
    cast(away_hit_woodwork as integer) as away_hit_woodwork,
    cast(home_corners as integer) as home_corners,
    cast(away_corners as integer) as away_corners,
    cast(home_fouls as integer) as home_fouls,
    cast(away_fouls as integer) as away_fouls,
    cast(home_offsides as integer) as home_offsides,
    cast(away_offsides as integer) as away_offsides,
    cast(home_yellow as integer) as home_yellow_cards,
    cast(away_yellow as integer) as away_yellow_cards,
    cast(home_red as integer) as home_red_cards,
    cast(away_red as integer) as away_red_cards,
    source_file,
    source_sha256,
    ingested_at,
    updated_at
from named
