{#- One row per team per match: the home side's and the away side's view of the same game. -#}
with matches as (
    select * from {{ ref('stg_matches') }}
),

rules as (
    select * from {{ ref('league_rules') }}
),

sides as (
    select
        match_id, div, season, season_start_year, match_date, kickoff_time,
        'home' as venue,
        home_team as team, away_team as opponent,
        home_team_source as team_source, away_team_source as opponent_source,
        home_goals as goals_for, away_goals as goals_against,
        home_goals_half_time as goals_for_half_time, away_goals_half_time as goals_against_half_time,
        home_shots as shots_for, away_shots as shots_against,
        home_shots_on_target as shots_on_target_for, away_shots_on_target as shots_on_target_against,
        home_corners as corners_for, away_corners as corners_against,
        home_fouls as fouls_for, away_fouls as fouls_against,
        home_yellow_cards as yellow_cards, home_red_cards as red_cards,
        updated_at
    from matches
    union all
    select
        match_id, div, season, season_start_year, match_date, kickoff_time,
        'away' as venue,
        away_team as team, home_team as opponent,
        away_team_source as team_source, home_team_source as opponent_source,
        away_goals as goals_for, home_goals as goals_against,
        away_goals_half_time as goals_for_half_time, home_goals_half_time as goals_against_half_time,
        away_shots as shots_for, home_shots as shots_against,
        away_shots_on_target as shots_on_target_for, home_shots_on_target as shots_on_target_against,
        away_corners as corners_for, home_corners as corners_against,
        away_fouls as fouls_for, home_fouls as fouls_against,
        away_yellow_cards as yellow_cards, away_red_cards as red_cards,
        updated_at
    from matches
)

select
    sides.match_id,
    sides.div,
    sides.season,
    sides.season_start_year,
    rules.country,
    rules.tier,
    sides.match_date,
    sides.kickoff_time,
    sides.venue,
    (sides.venue = 'home') as is_home,
    sides.team,
    sides.opponent,
    sides.team_source,
    sides.opponent_source,
    sides.goals_for,
    sides.goals_against,
    sides.goals_for - sides.goals_against as goal_difference,
    case
        when sides.goals_for > sides.goals_against then 'W'
        when sides.goals_for = sides.goals_against then 'D'
        else 'L'
    end as result,
    case when sides.goals_for > sides.goals_against then 1 else 0 end as won,
    case when sides.goals_for = sides.goals_against then 1 else 0 end as drawn,
    case when sides.goals_for < sides.goals_against then 1 else 0 end as lost,
    -- League points under the rules of that league and season (2 for a win before the switch to 3).
    case
        when sides.goals_for > sides.goals_against then rules.points_for_win
        when sides.goals_for = sides.goals_against then 1
        else 0
    end as points,
    rules.points_for_win,
    sides.goals_for_half_time,
    sides.goals_against_half_time,
    sides.shots_for,
    sides.shots_against,
    sides.shots_on_target_for,
    sides.shots_on_target_against,
    sides.corners_for,
    sides.corners_against,
    sides.fouls_for,
    sides.fouls_against,
    sides.yellow_cards,
    sides.red_cards,
    row_number() over (
        partition by sides.div, sides.season, sides.team
        order by sides.match_date, sides.match_id
    ) as team_match_number,
    sides.updated_at as source_updated_at
from sides
inner join rules
    on rules.div = sides.div
    and sides.season_start_year between rules.from_year and coalesce(rules.to_year, 9999)
