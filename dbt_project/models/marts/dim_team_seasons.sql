{#- One row per team per league season: division, final position and points, and how the team
    arrived in and left the division (promoted, relegated, stayed; 'unknown' at the edges of the data). -#}
with team_seasons as (
    select * from {{ ref('int_team_seasons') }}
),

final_table as (
    select div, season, team, position, points
    from {{ ref('league_table') }}
    where is_final_date
)

select
    ts.country,
    ts.team,
    ts.div,
    ts.tier,
    ts.season,
    ts.season_start_year,
    cast(ts.matches as integer) as matches,
    ft.position as final_position,
    ft.points as final_points,
    ts.previous_div,
    ts.next_div,
    ts.arrived_by,
    ts.left_by
from team_seasons as ts
left join final_table as ft
    on ft.div = ts.div and ft.season = ts.season and ft.team = ts.team
