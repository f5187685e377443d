{#- One row per team per league season, with where the team came from and went to.
    Movements are read from the divisions held here: England has two tiers (E0, E1); the other
    countries only their top flight, so arriving from / leaving to outside the data means
    promotion from / relegation to the tier below. -#}
with team_matches as (
    select * from {{ ref('int_team_matches') }}
),

team_seasons as (
    select
        country, div, tier, season, season_start_year, team,
        count(*) as matches
    from team_matches
    group by country, div, tier, season, season_start_year, team
),

country_bounds as (
    select
        country,
        max(tier) as lowest_tier_held,
        min(season_start_year) as first_year_held,
        max(season_start_year) as last_year_held
    from team_seasons
    group by country
),

neighbours as (
    select
        ts.*,
        lag(ts.tier) over w as previous_tier,
        lag(ts.div) over w as previous_div,
        lag(ts.season_start_year) over w as previous_year,
        lead(ts.tier) over w as next_tier,
        lead(ts.div) over w as next_div,
        lead(ts.season_start_year) over w as next_year
    from team_seasons as ts
    window w as (partition by ts.country, ts.team order by ts.season_start_year)
)

select
    n.country,
    n.div,
    n.tier,
    n.season,
    n.season_start_year,
    n.team,
    n.matches,
    case when n.previous_year = n.season_start_year - 1 then n.previous_div end as previous_div,
    case when n.next_year = n.season_start_year + 1 then n.next_div end as next_div,
    case
        when n.previous_year = n.season_start_year - 1 and n.previous_tier > n.tier then 'promoted'
        when n.previous_year = n.season_start_year - 1 and n.previous_tier < n.tier then 'relegated'
        when n.previous_year = n.season_start_year - 1 then 'stayed'
        when n.season_start_year = b.first_year_held then 'unknown'
        when n.tier = b.lowest_tier_held then 'promoted'
        else 'unknown'
    end as arrived_by,
    case
        when n.next_year = n.season_start_year + 1 and n.next_tier < n.tier then 'promoted'
        when n.next_year = n.season_start_year + 1 and n.next_tier > n.tier then 'relegated'
        when n.next_year = n.season_start_year + 1 then 'stayed'
        when n.season_start_year = b.last_year_held then 'unknown'
        when n.tier = b.lowest_tier_held then 'relegated'
        else 'unknown'
    end as left_by
from neighbours as n
inner join country_bounds as b on b.country = n.country
