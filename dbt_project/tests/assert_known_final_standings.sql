{#- Final tables reproduce published facts (seed known_final_standings): for every listed team
    whose season is complete in the warehouse, its final position and points match. -#}
{{ config(meta={'dagster': {'ref': {'name': 'league_table'}}}) }}

with facts as (
    select
        k.div,
        k.season,
        {{ canonical_team('al', 'k.team') }} as team,
        k.position,
        k.points,
        k.source
    from {{ ref('known_final_standings') }} as k
    left join {{ ref('team_aliases') }} as al
        on al.div = k.div and al.source_name = k.team
),

completed as (
    select div, season from {{ ref('season_summary') }} where is_completed
),

final_table as (
    select div, season, team, position, points
    from {{ ref('league_table') }}
    where is_final_date
)

select
    f.div, f.season, f.team,
    f.position as expected_position, t.position as actual_position,
    f.points as expected_points, t.points as actual_points,
    f.source
from facts as f
inner join completed as c on c.div = f.div and c.season = f.season
left join final_table as t on t.div = f.div and t.season = f.season and t.team = f.team
where t.team is null
   or t.position <> f.position
   or (f.points is not null and t.points <> f.points)
