{#- Fails for every row where the boolean SQL expression is false (NULL counts as passing,
    so optional columns only have to be right when present). -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
