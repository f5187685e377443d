{#- Fails for every combination of the given columns that occurs more than once
    (written here instead of pulling dbt_utils, so installs need no package hub). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
