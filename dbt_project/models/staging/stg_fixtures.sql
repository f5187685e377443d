{{ config(materialized="table") }}

{#- Upcoming matches: one row per fixture from the newest snapshot that lists it. The fixture_id
    is built like match_id, so a fixture and its eventual result share one key. -#}
with fixtures as (
    select * from {{ source('raw', 'fixtures') }}
),

aliases as (
    select div, source_name, canonical_name from {{ ref('team_aliases') }}
),

named as (
    select
        f.div,
        {{ season_code_for_date('f.match_date') }} as season,
        cast(f.match_date as date) as match_date,
        f.kickoff_time,
        {{ canonical_team('home_alias', 'f.home_team') }} as home_team,
        {{ canonical_team('away_alias', 'f.away_team') }} as away_team,
        f.home_team as home_team_source,
        f.away_team as away_team_source,
        cast(f.snapshot_date as date) as snapshot_date,
        f.source_file,
        f.updated_at
    from fixtures as f
    left join aliases as home_alias
        on home_alias.div = f.div and home_alias.source_name = f.home_team
    left join aliases as away_alias
        on away_alias.div = f.div and away_alias.source_name = f.away_team
),

ranked as (
    select
        named.*,
        {{ match_key('div', 'season', 'home_team', 'away_team') }} as fixture_id,
        -- A postponed match reappears with a new date in a later snapshot: the newest snapshot wins.
        row_number() over (
            partition by div, season, home_team, away_team
            order by snapshot_date desc, match_date desc
        ) as snapshot_rank,
        max(snapshot_date) over () as latest_snapshot_date
    from named
),

played as (
    select match_id from {{ ref('stg_matches') }}
)

select
    ranked.fixture_id,
    ranked.div,
    ranked.season,
    {{ season_start_year('ranked.season') }} as season_start_year,
    ranked.match_date,
    ranked.kickoff_time,
    ranked.home_team,
    ranked.away_team,
    ranked.home_team_source,
    ranked.away_team_source,
    ranked.snapshot_date,
    (ranked.snapshot_date = ranked.latest_snapshot_date) as is_latest_snapshot,
    (played.match_id is not null) as has_result,
    (played.match_id is null) as is_upcoming,
    ranked.source_file,
    ranked.updated_at
from ranked
left join played on played.match_id = ranked.fixture_id
where ranked.snapshot_rank = 1
