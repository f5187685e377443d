{#- Every goal scored is a goal conceded: summed over a league season, goals for = goals against,
    on every date of the table and in the team-match rows. -#}
{{ config(meta={'dagster': {'ref': {'name': 'league_table'}}}) }}

select div, season, as_of_date, sum(goals_for) as goals_for, sum(goals_against) as goals_against
from {{ ref('league_table') }}
group by div, season, as_of_date
having sum(goals_for) <> sum(goals_against)
