{#- At the end of a completed league season every team has played the same number of matches,
    2 * (teams - 1) in a double round robin. Seasons stopped early (var incomplete_seasons, e.g.
    Ligue 1 2019/20) are skipped. A failure means matches are missing or duplicated. -#}
{{ config(meta={'dagster': {'ref': {'name': 'league_table'}}}) }}

{%- set skipped = var('incomplete_seasons', []) %}

with final_table as (
    select div, season, team, played
    from {{ ref('league_table') }}
    where is_final_date
),

completed as (
    select div, season, teams
    from {{ ref('season_summary') }}
    where is_completed
    {%- for s in skipped %}
      and not (div = '{{ s.div }}' and season = '{{ s.season }}')
    {%- endfor %}
)

select f.div, f.season, f.team, f.played, 2 * (c.teams - 1) as expected_played
from final_table as f
inner join completed as c on c.div = f.div and c.season = f.season
where f.played <> 2 * (c.teams - 1)
