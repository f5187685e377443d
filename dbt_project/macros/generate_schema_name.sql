{#- Models land in exactly the schema they configure (staging, intermediate, analytics, reference),
    not in "<target schema>_<custom>": analysts and the feature pipeline read fixed names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
