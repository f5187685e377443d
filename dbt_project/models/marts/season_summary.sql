{#- One row per league season: outcome rates and scoring, completeness and the champion. -#}
with matches as (
    select * from {{ ref('stg_matches') }}
),

rules as (
    select * from {{ ref('league_rules') }}
),

team_counts as (
    select div, season, count(distinct team) as teams
    from {{ ref('int_team_matches') }}
    group by div, season
),

champions as (
    select div, season, team as champion, points as champion_points
    from {{ ref('league_table') }}
    where is_final_date and position = 1
),

latest_season as (
    select div, max(season_start_year) as last_season_start_year
    from matches
    group by div
),

per_season as (
    select
        div,
        season,
        min(season_start_year) as season_start_year,
        count(*) as matches,
        sum(case when result = 'H' then 1 else 0 end) as home_wins,
        sum(case when result = 'D' then 1 else 0 end) as draws,
        sum(case when result = 'A' then 1 else 0 end) as away_wins,
        sum(home_goals) as home_goals,
        sum(away_goals) as away_goals,
        min(match_date) as first_match_date,
        max(match_date) as last_match_date
    from matches
    group by div, season
)

select
    s.div,
    s.season,
    s.season_start_year,
    r.league_name,
    r.country,
    r.tier,
    cast(tc.teams as integer) as teams,
    cast(s.matches as integer) as matches,
    cast(tc.teams * (tc.teams - 1) as integer) as scheduled_matches,
    (s.matches = tc.teams * (tc.teams - 1)) as all_matches_played,
    -- Over when every fixture is in, or when a later season of the league already exists.
    (s.matches = tc.teams * (tc.teams - 1) or s.season_start_year < ls.last_season_start_year) as is_completed,
    cast(s.home_wins as integer) as home_wins,
    cast(s.draws as integer) as draws,
    cast(s.away_wins as integer) as away_wins,
    {{ safe_divide('s.home_wins', 's.matches') }} as home_win_rate,
    {{ safe_divide('s.draws', 's.matches') }} as draw_rate,
    {{ safe_divide('s.away_wins', 's.matches') }} as away_win_rate,
    cast(s.home_goals as integer) as home_goals,
    cast(s.away_goals as integer) as away_goals,
    {{ safe_divide('s.home_goals + s.away_goals', 's.matches') }} as goals_per_match,
    {{ safe_divide('s.home_goals', 's.matches') }} as home_goals_per_match,
    {{ safe_divide('s.away_goals', 's.matches') }} as away_goals_per_match,
    s.first_match_date,
    s.last_match_date,
    c.champion,
    c.champion_points
from per_season as s
inner join team_counts as tc on tc.div = s.div and tc.season = s.season
inner join latest_season as ls on ls.div = s.div
inner join rules as r
    on r.div = s.div and s.season_start_year between r.from_year and coalesce(r.to_year, 9999)
left join champions as c on c.div = s.div and c.season = s.season
