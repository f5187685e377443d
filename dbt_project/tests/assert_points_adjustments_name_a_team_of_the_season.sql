{#- Every points adjustment names a team that played that league season (when the season is in
    the warehouse): a misspelt team would otherwise be silently ignored. -#}
{{ config(meta={'dagster': {'ref': {'name': 'points_adjustments'}}}) }}

with adjustments as (
    select a.div, a.season, {{ canonical_team('al', 'a.team') }} as team, a.team as team_as_written
    from {{ ref('points_adjustments') }} as a
    left join {{ ref('team_aliases') }} as al
        on al.div = a.div and al.source_name = a.team
),

loaded_seasons as (
    select distinct div, season from {{ ref('int_team_matches') }}
),

teams as (
    select distinct div, season, team from {{ ref('int_team_matches') }}
)

select a.*
from adjustments as a
inner join loaded_seasons as s on s.div = a.div and s.season = a.season
left join teams as t on t.div = a.div and t.season = a.season and t.team = a.team
where t.team is null
