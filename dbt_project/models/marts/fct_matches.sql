{#- One row per played match with market probabilities before kick-off ('pre') and at the close.
    Probabilities are 1/odds normalised to sum to 1 (margin removed). Source of each triple, in
    order of preference: Pinnacle; else the site's market average (Avg from 2019/20, Betbrain's
    BbAv 2005/06-2018/19); else, for seasons with neither, the mean of the normalised prices of
    every individual bookmaker quoting the match. Untrusted (flagged) triples are skipped.
    Incremental by league season, like league_table. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['div', 'season'],
        on_schema_change='fail',
    )
}}

with all_matches as (
    select * from {{ ref('stg_matches') }}
),

-- What a league season's rows are built from: ingestion replaces a match's odds whenever the
-- match row changes, so the match rows' count, latest update and goals identify the season.
fingerprints as (
    select
        div,
        season,
        {{ season_fingerprint(["count(*)", "max(updated_at)", "sum(home_goals + away_goals)"]) }} as season_fingerprint
    from all_matches
    group by div, season
),

scope as (
    {{ changed_seasons('fingerprints') }}
),

matches as (
    select m.*, s.season_fingerprint
    from all_matches as m
    inner join scope as s on s.div = m.div and s.season = m.season
),

odds_1x2 as (
    select o.match_id, o.period, o.bookmaker, o.bookmaker_kind, o.selection, o.price, o.is_trusted
    from {{ ref('stg_odds') }} as o
    inner join scope as s on s.div = o.div and s.season = o.season
    where o.market = '1x2'
),

triples as (
    select
        match_id,
        period,
        bookmaker,
        max(bookmaker_kind) as bookmaker_kind,
        max(case when selection = 'H' then price end) as odds_home,
        max(case when selection = 'D' then price end) as odds_draw,
        max(case when selection = 'A' then price end) as odds_away,
        sum(case when is_trusted then 0 else 1 end) as untrusted_prices
    from odds_1x2
    group by match_id, period, bookmaker
),

valid_triples as (
    select
        t.*,
        1.0 / t.odds_home + 1.0 / t.odds_draw + 1.0 / t.odds_away as overround
    from triples as t
    where t.odds_home > 1 and t.odds_draw > 1 and t.odds_away > 1
      and t.untrusted_prices = 0
),

normalised as (
    select
        match_id,
        period,
        bookmaker,
        bookmaker_kind,
        overround,
        (1.0 / odds_home) / overround as p_home,
        (1.0 / odds_draw) / overround as p_draw,
        (1.0 / odds_away) / overround as p_away
    from valid_triples
),

-- The individual books' consensus, used only where neither Pinnacle nor a market average exists.
consensus as (
    select
        match_id,
        period,
        'books' as bookmaker,
        'bookmaker_consensus' as bookmaker_kind,
        avg(overround) as overround,
        avg(p_home) as p_home,
        avg(p_draw) as p_draw,
        avg(p_away) as p_away,
        count(*) as n_books
    from normalised
    where bookmaker_kind = 'bookmaker'
    group by match_id, period
),

candidates as (
    select
        match_id, period, bookmaker, bookmaker_kind, overround, p_home, p_draw, p_away,
        case
            when bookmaker = 'PS' then 1
            when bookmaker = 'Avg' then 2
            when bookmaker = 'BbAv' then 3
        end as preference
    from normalised
    where bookmaker in ('PS', 'Avg', 'BbAv')
    union all
    select
        match_id, period, bookmaker, bookmaker_kind, overround,
        -- renormalise: an average of normalised triples sums to 1 only up to rounding
        p_home / (p_home + p_draw + p_away),
        p_draw / (p_home + p_draw + p_away),
        p_away / (p_home + p_draw + p_away),
        4 as preference
    from consensus
),

chosen as (
    select *
    from (
        select
            candidates.*,
            row_number() over (partition by match_id, period order by preference) as choice
        from candidates
    ) as ranked_candidates
    where choice = 1
),

pre as (select * from chosen where period = 'pre'),
closing as (select * from chosen where period = 'close')

select
    m.match_id,
    m.div,
    m.season,
    m.season_start_year,
    m.match_date,
    m.kickoff_time,
    m.home_team,
    m.away_team,
    m.home_team_source,
    m.away_team_source,
    m.home_goals,
    m.away_goals,
    m.result,
    m.home_goals_half_time,
    m.away_goals_half_time,
    m.result_half_time,
    m.referee,
    m.attendance,
    m.home_shots,
    m.away_shots,
    m.home_shots_on_target,
    m.away_shots_on_target,
    m.home_corners,
    m.away_corners,
    m.home_fouls,
    m.away_fouls,
    m.home_yellow_cards,
    m.away_yellow_cards,
    m.home_red_cards,
    m.away_red_cards,
    pre.p_home as pre_p_home,
    pre.p_draw as pre_p_draw,
    pre.p_away as pre_p_away,
    pre.overround as pre_overround,
    pre.bookmaker_kind as pre_odds_source,
    closing.p_home as close_p_home,
    closing.p_draw as close_p_draw,
    closing.p_away as close_p_away,
    closing.overround as close_overround,
    closing.bookmaker_kind as close_odds_source,
    m.source_file,
    m.updated_at,
    m.season_fingerprint
from matches as m
left join pre on pre.match_id = m.match_id
left join closing on closing.match_id = m.match_id
