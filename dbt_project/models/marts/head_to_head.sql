{#- All-time record of each team against each opponent it has met in the league data of its
    country (both orientations present: A v B and B v A), overall and split by venue. -#}
with team_matches as (
    select * from {{ ref('int_team_matches') }}
),

latest as (
    select
        country, team, opponent, match_date, venue, goals_for, goals_against, result,
        row_number() over (
            partition by country, team, opponent order by match_date desc, match_id desc
        ) as recency
    from team_matches
)

select
    tm.country,
    tm.team,
    tm.opponent,
    count(*) as matches,
    sum(tm.won) as won,
    sum(tm.drawn) as drawn,
    sum(tm.lost) as lost,
    sum(tm.goals_for) as goals_for,
    sum(tm.goals_against) as goals_against,
    sum(tm.goals_for) - sum(tm.goals_against) as goal_difference,
    sum(case when tm.venue = 'home' then 1 else 0 end) as home_matches,
    sum(case when tm.venue = 'home' then tm.won else 0 end) as home_won,
    sum(case when tm.venue = 'home' then tm.drawn else 0 end) as home_drawn,
    sum(case when tm.venue = 'home' then tm.lost else 0 end) as home_lost,
    sum(case when tm.venue = 'away' then 1 else 0 end) as away_matches,
    sum(case when tm.venue = 'away' then tm.won else 0 end) as away_won,
    sum(case when tm.venue = 'away' then tm.drawn else 0 end) as away_drawn,
    sum(case when tm.venue = 'away' then tm.lost else 0 end) as away_lost,
    {{ safe_divide('sum(tm.won)', 'count(*)') }} as win_rate,
    min(tm.match_date) as first_match_date,
    max(tm.match_date) as last_match_date,
    max(case when l.recency = 1 then l.venue end) as last_match_venue,
    max(case when l.recency = 1 then l.result end) as last_match_result,
    max(case when l.recency = 1 then l.goals_for end) as last_match_goals_for,
    max(case when l.recency = 1 then l.goals_against end) as last_match_goals_against
from team_matches as tm
left join latest as l
    on l.country = tm.country and l.team = tm.team and l.opponent = tm.opponent and l.recency = 1
group by tm.country, tm.team, tm.opponent
