{#- Form is computed strictly from earlier matches: a team's first match in the data has no form,
    and the last-N window never holds more matches than the team played before that date. -#}
{{ config(meta={'dagster': {'ref': {'name': 'team_form'}}}) }}

with form as (
    select * from {{ ref('team_form') }}
),

-- A team plays at most once a day, so its earlier matches are the rows before it in date order.
earlier as (
    select
        tm.match_id,
        tm.team,
        row_number() over (partition by tm.country, tm.team order by tm.match_date) - 1 as earlier_matches
    from {{ ref('int_team_matches') }} as tm
)

select f.match_id, f.team, f.last5_matches, f.last10_matches, e.earlier_matches
from form as f
inner join earlier as e on e.match_id = f.match_id and e.team = f.team
where f.last5_matches > least(5, e.earlier_matches)
   or f.last10_matches > least(10, e.earlier_matches)
   or (e.earlier_matches = 0 and f.last5_points_avg is not null)
   or (e.earlier_matches >= 5 and f.last5_matches <> 5)
