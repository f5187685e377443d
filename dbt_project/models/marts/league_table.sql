{#- Standings after every match date of every league season.

    Incremental by league season: a season is rebuilt when its fingerprint changes (a match was
    inserted or corrected, or its points adjustments changed); untouched seasons are kept.
    Changes to the alias or rules seeds need a full refresh (dbt build --full-refresh, or
    full_refresh: true in the Dagster run config). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['div', 'season'],
        on_schema_change='fail',
    )
}}

with team_matches as (
    select * from {{ ref('int_team_matches') }}
),

rules as (
    select * from {{ ref('league_rules') }}
),

adjustments as (
    select
        a.div,
        a.season,
        {{ canonical_team('al', 'a.team') }} as team,
        a.adjustment_type,
        a.points,
        a.effective_date
    from {{ ref('points_adjustments') }} as a
    left join {{ ref('team_aliases') }} as al
        on al.div = a.div and al.source_name = a.team
),

fingerprint_matches as (
    select
        div, season,
        count(*) as n_rows,
        max(source_updated_at) as max_updated_at,
        sum(goals_for) as goals
    from team_matches
    group by div, season
),

fingerprint_adjustments as (
    select
        div, season,
        count(*) as n_rows,
        sum(points) as points,
        max(effective_date) as max_effective_date
    from adjustments
    group by div, season
),

fingerprints as (
    select
        m.div,
        m.season,
        {{ season_fingerprint(["m.n_rows", "m.max_updated_at", "m.goals",
                               "a.n_rows", "a.points", "a.max_effective_date"]) }} as season_fingerprint
    from fingerprint_matches as m
    left join fingerprint_adjustments as a
        on a.div = m.div and a.season = m.season
),

scope as (
    {{ changed_seasons('fingerprints') }}
),

scoped_matches as (
    select tm.*
    from team_matches as tm
    inner join scope as s on s.div = tm.div and s.season = tm.season
),

match_dates as (
    select distinct div, season, season_start_year, match_date as as_of_date
    from scoped_matches
),

dates as (
    select
        match_dates.*,
        max(as_of_date) over (partition by div, season) as season_last_date
    from match_dates
),

teams as (
    select distinct div, season, team from scoped_matches
),

daily as (
    select
        div, season, team, match_date,
        count(*) as played,
        sum(won) as won,
        sum(drawn) as drawn,
        sum(lost) as lost,
        sum(goals_for) as goals_for,
        sum(goals_against) as goals_against,
        sum(points) as points
    from scoped_matches
    group by div, season, team, match_date
),

grid as (
    select d.div, d.season, d.season_start_year, d.as_of_date, d.season_last_date, t.team
    from dates as d
    inner join teams as t on t.div = d.div and t.season = d.season
),

cumulative as (
    select
        g.div,
        g.season,
        g.season_start_year,
        g.as_of_date,
        g.season_last_date,
        g.team,
        sum(coalesce(dl.played, 0)) over w as played,
        sum(coalesce(dl.won, 0)) over w as won,
        sum(coalesce(dl.drawn, 0)) over w as drawn,
        sum(coalesce(dl.lost, 0)) over w as lost,
        sum(coalesce(dl.goals_for, 0)) over w as goals_for,
        sum(coalesce(dl.goals_against, 0)) over w as goals_against,
        sum(coalesce(dl.points, 0)) over w as points_earned
    from grid as g
    left join daily as dl
        on dl.div = g.div and dl.season = g.season and dl.team = g.team and dl.match_date = g.as_of_date
    window w as (
        partition by g.div, g.season, g.team
        order by g.as_of_date
        rows between unbounded preceding and current row
    )
),

-- Deductions count from their effective date (NULL: from the first match); one decided after the
-- last match (e.g. at appeal) still belongs in the season's final table.
adjustments_by_date as (
    select
        d.div,
        d.season,
        d.as_of_date,
        a.team,
        sum(a.points) as points_adjustment,
        max(case when a.adjustment_type = 'placed_last' then 1 else 0 end) as placed_last
    from dates as d
    inner join adjustments as a
        on a.div = d.div
        and a.season = d.season
        and (a.effective_date is null or a.effective_date <= d.as_of_date or d.as_of_date = d.season_last_date)
    group by d.div, d.season, d.as_of_date, a.team
),

standings as (
    select
        c.*,
        c.goals_for - c.goals_against as goal_difference,
        coalesce(adj.points_adjustment, 0) as points_adjustment,
        c.points_earned + coalesce(adj.points_adjustment, 0) as points,
        coalesce(adj.placed_last, 0) as placed_last,
        r.tiebreak,
        r.ranking
    from cumulative as c
    inner join rules as r
        on r.div = c.div and c.season_start_year between r.from_year and coalesce(r.to_year, 9999)
    left join adjustments_by_date as adj
        on adj.div = c.div and adj.season = c.season and adj.as_of_date = c.as_of_date and adj.team = c.team
),

-- Head-to-head among teams level on points (and, where goal difference comes first, on goal
-- difference too): their mini-league of matches played against each other up to that date.
tie_keyed as (
    select
        standings.*,
        case when tiebreak = 'pts_gd_h2h_gf' then goal_difference else 0 end as tie_goal_difference
    from standings
),

-- Pairs of teams level at a date: same points (and same goal difference where that comes first).
tied_pairs as (
    select b.div, b.season, b.as_of_date, b.team, o.team as opponent
    from tie_keyed as b
    inner join tie_keyed as o
        on o.div = b.div
        and o.season = b.season
        and o.as_of_date = b.as_of_date
        and o.points = b.points
        and o.tie_goal_difference = b.tie_goal_difference
        and o.team <> b.team
    where b.tiebreak in ('pts_h2h_gd_gf', 'pts_gd_h2h_gf')
),

-- Their mini-league: results between two tied teams played up to that date (at most two per pair).
head_to_head as (
    select
        p.div,
        p.season,
        p.as_of_date,
        p.team,
        count(*) as h2h_played,
        sum(tm.points) as h2h_points,
        sum(tm.goals_for - tm.goals_against) as h2h_goal_difference
    from tied_pairs as p
    inner join scoped_matches as tm
        on tm.div = p.div
        and tm.season = p.season
        and tm.team = p.team
        and tm.opponent = p.opponent
        and tm.match_date <= p.as_of_date
    group by p.div, p.season, p.as_of_date, p.team
),

with_h2h as (
    select
        t.*,
        coalesce(h.h2h_played, 0) as h2h_played,
        coalesce(h.h2h_points, 0) as h2h_points,
        coalesce(h.h2h_goal_difference, 0) as h2h_goal_difference,
        count(*) over (
            partition by t.div, t.season, t.as_of_date, t.points, t.tie_goal_difference
        ) as tied_teams,
        sum(coalesce(h.h2h_played, 0)) over (
            partition by t.div, t.season, t.as_of_date, t.points, t.tie_goal_difference
        ) as tied_h2h_rows
    from tie_keyed as t
    left join head_to_head as h
        on h.div = t.div and h.season = t.season and h.as_of_date = t.as_of_date and h.team = t.team
),

sort_keys as (
    select
        w.*,
        -- Head-to-head decides only once every pair of tied teams has met home and away
        -- (2 * n * (n - 1) team-rows); before that the next criterion applies.
        case
            when tiebreak in ('pts_h2h_gd_gf', 'pts_gd_h2h_gf')
                 and tied_teams > 1
                 and tied_h2h_rows = 2 * tied_teams * (tied_teams - 1)
            then 1 else 0
        end as h2h_applies,
        case when ranking = 'points_per_game' then {{ safe_divide('points', 'played') }} end as points_per_game_key
    from with_h2h as w
),

ranked as (
    select
        s.*,
        row_number() over (
            partition by s.div, s.season, s.as_of_date
            order by
                s.placed_last,
                coalesce(s.points_per_game_key, 0) desc,
                s.points desc,
                case when s.tiebreak = 'pts_h2h_gd_gf' and s.h2h_applies = 1 then s.h2h_points else 0 end desc,
                case when s.tiebreak = 'pts_h2h_gd_gf' and s.h2h_applies = 1 then s.h2h_goal_difference else 0 end desc,
                s.goal_difference desc,
                case when s.tiebreak = 'pts_gd_h2h_gf' and s.h2h_applies = 1 then s.h2h_points else 0 end desc,
                case when s.tiebreak = 'pts_gd_h2h_gf' and s.h2h_applies = 1 then s.h2h_goal_difference else 0 end desc,
                s.goals_for desc,
                {{ binary_order('s.team') }}
        ) as position
    from sort_keys as s
)

select
    ranked.div,
    ranked.season,
    ranked.season_start_year,
    ranked.as_of_date,
    ranked.team,
    cast(ranked.position as integer) as position,
    cast(ranked.played as integer) as played,
    cast(ranked.won as integer) as won,
    cast(ranked.drawn as integer) as drawn,
    cast(ranked.lost as integer) as lost,
    cast(ranked.goals_for as integer) as goals_for,
    cast(ranked.goals_against as integer) as goals_against,
    cast(ranked.goal_difference as integer) as goal_difference,
    cast(ranked.points as integer) as points,
    cast(ranked.points_earned as integer) as points_earned,
    cast(ranked.points_adjustment as integer) as points_adjustment,
    (ranked.placed_last = 1) as placed_last,
    {{ safe_divide('ranked.points', 'ranked.played') }} as points_per_game,
    (ranked.as_of_date = ranked.season_last_date) as is_final_date,
    ranked.tiebreak,
    (ranked.h2h_applies = 1) as head_to_head_applied,
    scope.season_fingerprint
from ranked
inner join scope on scope.div = ranked.div and scope.season = ranked.season
