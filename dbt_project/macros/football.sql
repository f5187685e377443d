{#- Small helpers shared by the models. Each one writes SQL that DuckDB and PostgreSQL both accept. -#}

{#- '9394' -> 1993, '2324' -> 2023: the site's codes start in 1993/94, so 93..99 are the 1900s. -#}
{% macro season_start_year(season) -%}
    (case when cast(substring({{ season }}, 1, 2) as integer) >= 93
          then 1900 + cast(substring({{ season }}, 1, 2) as integer)
          else 2000 + cast(substring({{ season }}, 1, 2) as integer) end)
{%- endmacro %}

{#- The season a date belongs to when no file says so (fixtures): seasons start on 1 July. -#}
{% macro season_code_for_date(date_expr) -%}
    (lpad(cast(mod(cast(extract(year from {{ date_expr }}) as integer)
                   - (case when extract(month from {{ date_expr }}) >= 7 then 0 else 1 end), 100)
               as {{ dbt.type_string() }}), 2, '0')
     || lpad(cast(mod(cast(extract(year from {{ date_expr }}) as integer)
                   + (case when extract(month from {{ date_expr }}) >= 7 then 1 else 0 end), 100)
               as {{ dbt.type_string() }}), 2, '0'))
{%- endmacro %}

{#- Stable match key: md5 of the natural key with canonical team names, so a later spelling
    variant of a team (mapped by the alias seed) keeps the same match_id. -#}
{% macro match_key(div, season, home_team, away_team) -%}
    {{ dbt.hash(dbt.concat([div, "'|'", season, "'|'", home_team, "'|'", away_team])) }}
{%- endmacro %}

{#- Floating-point division that yields NULL instead of failing (PostgreSQL) or returning
    infinity (DuckDB) on a zero denominator; also avoids PostgreSQL's integer division. -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}

{#- A team's canonical name: the alias seed maps the site's spelling per league. -#}
{% macro canonical_team(alias_relation_alias, raw_name) -%}
    coalesce({{ alias_relation_alias }}.canonical_name, {{ raw_name }})
{%- endmacro %}

{#- PostgreSQL estimates CTE joins badly (often 1 row), then reorders joins and picks nested
    loops that take minutes on a few hundred thousand rows. For the CTE-heavy marts: keep the join
    order as written (the SQL joins small sets first), use hash/merge joins, and sort in memory.
    SET LOCAL lasts only for the model's transaction. Nothing on DuckDB. -#}
{% macro postgres_planner_settings() -%}
    {%- if target.type == 'postgres' -%}
        set local enable_nestloop = off;
        set local join_collapse_limit = 1;
        set local work_mem = '256MB'
    {%- endif -%}
{%- endmacro %}

{#- Fresh statistics after a table is (re)built: PostgreSQL may run without autovacuum, and
    without statistics every later join is planned blind. No-op on DuckDB. -#}
{% macro analyze_this() -%}
    {%- if target.type == 'postgres' and model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- on-run-start: statistics for the raw tables dbt reads (ingestion bulk-loads them). -#}
{% macro analyze_sources() -%}
    {%- if target.type == 'postgres' and execute -%}
        {%- for table in ['matches', 'odds', 'fixtures', 'fixture_odds'] -%}
            {%- set relation = adapter.get_relation(database=target.database, schema='raw', identifier=table) -%}
            {%- if relation is not none %}
                {% do run_query('analyze ' ~ relation) %}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Byte order for text, so a last-resort alphabetical tie-break ranks teams the same on both
    engines (PostgreSQL would otherwise use the database's locale collation). -#}
{% macro binary_order(column) -%}
    {{ return(adapter.dispatch('binary_order', 'football')(column)) }}
{%- endmacro %}

{% macro default__binary_order(column) -%}
    {{ column }}
{%- endmacro %}

{% macro postgres__binary_order(column) -%}
    {{ column }} collate "C"
{%- endmacro %}

{#- The price columns every odds model exposes, from a raw odds relation aliased `odds`
    (raw.odds for played matches, raw.fixture_odds for fixtures). -#}
{% macro odds_price_columns(odds='odds') -%}
    {{ odds }}.bookmaker,
    case
        when {{ odds }}.bookmaker = 'PS' then 'pinnacle'
        when {{ odds }}.bookmaker in ('Avg', 'BbAv') then 'market_average'
        when {{ odds }}.bookmaker in ('Max', 'BbMx') then 'market_maximum'
        else 'bookmaker'
    end as bookmaker_kind,
    {{ odds }}.market,
    {{ odds }}.period,
    {{ odds }}.selection,
    {{ odds }}.line,
    {{ odds }}.price,
    {{ safe_divide('1', odds ~ '.price') }} as implied_probability,
    {{ odds }}.flag,
    ({{ odds }}.flag is null and {{ odds }}.price > 1) as is_trusted
{%- endmacro %}

{#- A league season's fingerprint: a hash of aggregates that change whenever any of its input
    rows is inserted or corrected. Incremental marts rebuild a season when it changes. -#}
{% macro season_fingerprint(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- if not loop.first %}{% do parts.append("'|'") %}{% endif -%}
        {%- do parts.append("coalesce(cast(" ~ expression ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- The league seasons an incremental mart must (re)build: every season on a full build, else those
    whose fingerprint differs from the one stored with their rows in this model. -#}
{% macro changed_seasons(fingerprints) -%}
    select f.div, f.season, f.season_fingerprint
    from {{ fingerprints }} as f
    {%- if is_incremental() %}
    left join (select distinct div, season, season_fingerprint from {{ this }}) as b
        on b.div = f.div and b.season = f.season
    where b.season_fingerprint is null or b.season_fingerprint <> f.season_fingerprint
    {%- endif %}
{%- endmacro %}
