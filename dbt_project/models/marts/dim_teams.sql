{#- One row per team (per country): its league history, promotions and relegations, best finish. -#}
with team_seasons as (
    select * from {{ ref('int_team_seasons') }}
),

final_positions as (
    select div, season, team, position
    from {{ ref('league_table') }}
    where is_final_date
),

completed as (
    select div, season from {{ ref('season_summary') }} where is_completed
),

seasons as (
    select
        ts.*,
        fp.position as final_position,
        (c.season is not null) as season_completed
    from team_seasons as ts
    left join final_positions as fp
        on fp.div = ts.div and fp.season = ts.season and fp.team = ts.team
    left join completed as c
        on c.div = ts.div and c.season = ts.season
),

per_league as (
    select country, team, div, count(*) as seasons_in_league
    from seasons
    group by country, team, div
),

league_history as (
    select
        country,
        team,
        {{ dbt.listagg(
            dbt.concat(["div", "':'", "cast(seasons_in_league as " ~ dbt.type_string() ~ ")"]),
            "', '",
            "order by div"
        ) }} as seasons_per_league
    from per_league
    group by country, team
),

last_season as (
    select country, team, div as current_div, season as last_season
    from (
        select
            seasons.*,
            row_number() over (partition by country, team order by season_start_year desc) as recency
        from seasons
    ) as ordered
    where recency = 1
),

first_season as (
    select country, team, season as first_season
    from (
        select
            seasons.*,
            row_number() over (partition by country, team order by season_start_year) as age
        from seasons
    ) as ordered
    where age = 1
),

totals as (
    select
        country,
        team,
        count(*) as seasons,
        sum(case when tier = 1 then 1 else 0 end) as top_flight_seasons,
        sum(case when left_by = 'promoted' then 1 else 0 end) as promotions,
        sum(case when left_by = 'relegated' then 1 else 0 end) as relegations,
        min(case when tier = 1 then final_position end) as best_top_flight_finish,
        sum(case when tier = 1 and final_position = 1 and season_completed then 1 else 0 end) as league_titles,
        sum(matches) as matches
    from seasons
    group by country, team
)

select
    t.team,
    t.country,
    f.first_season,
    l.last_season,
    l.current_div,
    cast(t.seasons as integer) as seasons,
    cast(t.top_flight_seasons as integer) as top_flight_seasons,
    h.seasons_per_league,
    cast(t.promotions as integer) as promotions,
    cast(t.relegations as integer) as relegations,
    cast(t.best_top_flight_finish as integer) as best_top_flight_finish,
    cast(t.league_titles as integer) as league_titles,
    cast(t.matches as integer) as matches
from totals as t
inner join first_season as f on f.country = t.country and f.team = t.team
inner join last_season as l on l.country = t.country and l.team = t.team
inner join league_history as h on h.country = t.country and h.team = t.team
