{#- Rolling form per team before each of its matches: averages over its previous 5 and 10
    matches, overall and at the same venue (home form for a home match, away form for an away
    match). Windows end one row before the match, so a row never sees its own result.
    History runs across seasons and divisions of one country (a promoted team keeps its form).
    Form points use 3 for a win in every era so that seasons compare.

    Incremental by league season: when a season changes, it and every later season are rebuilt
    (their first matches look back into it). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['div', 'season'],
        on_schema_change='fail',
    )
}}

{%- set stats = [
    ('points', 'form_points'),
    ('goals_for', 'goals_for'),
    ('goals_against', 'goals_against'),
    ('shots_for', 'shots_for'),
    ('shots_against', 'shots_against'),
    ('shots_on_target_for', 'shots_on_target_for'),
    ('shots_on_target_against', 'shots_on_target_against'),
    ('corners_for', 'corners_for'),
    ('corners_against', 'corners_against'),
] -%}
{%- set windows = [5, 10] -%}

with team_matches as (
    select
        tm.*,
        case when tm.won = 1 then 3 when tm.drawn = 1 then 1 else 0 end as form_points
    from {{ ref('int_team_matches') }} as tm
),

fingerprints as (
    select
        div,
        season,
        min(season_start_year) as season_start_year,
        {{ season_fingerprint(["count(*)", "max(source_updated_at)", "sum(goals_for)"]) }} as season_fingerprint
    from team_matches
    group by div, season
),

{% if is_incremental() %}
built as (
    select distinct div, season, season_fingerprint from {{ this }}
),

first_changed as (
    select min(f.season_start_year) as season_start_year
    from fingerprints as f
    left join built as b on b.div = f.div and b.season = f.season
    where b.season_fingerprint is null or b.season_fingerprint <> f.season_fingerprint
),

{% endif %}
scope as (
    select f.div, f.season, f.season_fingerprint
    from fingerprints as f
    {% if is_incremental() %}
    where f.season_start_year >= (select season_start_year from first_changed)
    {% endif %}
),

{% if is_incremental() %}
-- Rebuilt seasons need each team's last 10 matches before them (overall and per venue), not the
-- whole history: keep those rows only, so an incremental run stays small.
earlier_ranked as (
    select
        tm.match_id,
        tm.team,
        row_number() over (
            partition by tm.country, tm.team order by tm.match_date desc, tm.match_id desc
        ) as recency,
        row_number() over (
            partition by tm.country, tm.team, tm.venue order by tm.match_date desc, tm.match_id desc
        ) as venue_recency
    from team_matches as tm
    where tm.season_start_year < (select season_start_year from first_changed)
),

window_input as (
    select tm.*
    from team_matches as tm
    left join earlier_ranked as e
        on e.match_id = tm.match_id and e.team = tm.team and (e.recency <= 10 or e.venue_recency <= 10)
    where tm.season_start_year >= (select season_start_year from first_changed)
       or e.match_id is not null
),
{% else %}
window_input as (
    select * from team_matches
),
{% endif %}

form as (
    select
        tm.match_id,
        tm.div,
        tm.season,
        tm.season_start_year,
        tm.country,
        tm.match_date,
        tm.team,
        tm.opponent,
        tm.venue,
        tm.team_match_number,
        {%- for n in windows %}
        count(*) over (
            partition by tm.country, tm.team order by tm.match_date, tm.match_id
            rows between {{ n }} preceding and 1 preceding
        ) as last{{ n }}_matches,
        count(*) over (
            partition by tm.country, tm.team, tm.venue order by tm.match_date, tm.match_id
            rows between {{ n }} preceding and 1 preceding
        ) as venue_last{{ n }}_matches,
        {%- for column, source_column in stats %}
        avg(cast(tm.{{ source_column }} as double precision)) over (
            partition by tm.country, tm.team order by tm.match_date, tm.match_id
            rows between {{ n }} preceding and 1 preceding
        ) as last{{ n }}_{{ column }}_avg,
        avg(cast(tm.{{ source_column }} as double precision)) over (
            partition by tm.country, tm.team, tm.venue order by tm.match_date, tm.match_id
            rows between {{ n }} preceding and 1 preceding
        ) as venue_last{{ n }}_{{ column }}_avg,
        {%- endfor %}
        {%- endfor %}
        lag(tm.match_date) over (
            partition by tm.country, tm.team order by tm.match_date, tm.match_id
        ) as previous_match_date
    from window_input as tm
)

select
    form.*,
    {{ dbt.datediff('form.previous_match_date', 'form.match_date', 'day') }} as days_since_previous_match,
    scope.season_fingerprint
from form
inner join scope on scope.div = form.div and scope.season = form.season
