{#- One row per team per match: the home side's and the away side's view of the same game. -#}
with matches as (
    select * from {{ ref('stg_matches') }}
),

rules as (
    select * from {{ ref('league_rules') }}
),

sides as (
    {#- the same select twice, once from each side: `side` is the team, `other` the opponent -#}
    {%- for side, other in [('home', 'away'), ('away', 'home')] %}
    select
        match_id, div, season, season_start_year, match_date, kickoff_time,
        '{{ side }}' as venue,
        {{ side }}_team as team, {{ other }}_team as opponent,
        {{ side }}_team_source as team_source, {{ other }}_team_source as opponent_source,
        {{ side }}_goals as goals_for, {{ other }}_goals as goals_against,
        {{ side }}_goals_half_time as goals_for_half_time, {{ other }}_goals_half_time as goals_against_half_time,
        {{ side }}_shots as shots_for, {{ other }}_shots as shots_against,
        {{ side }}_shots_on_target as shots_on_target_for, {{ other }}_shots_on_target as shots_on_target_against,
        {{ side }}_corners as corners_for, {{ other }}_corners as corners_against,
        {{ side }}_fouls as fouls_for, {{ other }}_fouls as fouls_against,
        {{ side }}_yellow_cards as yellow_cards, {{ side }}_red_cards as red_cards,
        updated_at
    from matches
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
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
