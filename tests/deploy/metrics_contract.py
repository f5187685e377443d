"""The Prometheus metrics the platform promises, in one place.

The alert rules (deploy/prometheus/alerts.yml) and the Grafana dashboards (deploy/grafana/dashboards)
may only query these names; docs/metrics.md documents them. The serving API's own tests should assert
that ``GET /metrics`` exposes every name in :data:`API_METRICS` (``exposed_sample_names`` gives the
sample names a Prometheus client writes for each type).
"""

from __future__ import annotations

# name -> (type, labels). Types as prometheus_client declares them; a counter's name here already
# ends in _total, as it appears on /metrics.
API_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "football_api_requests_total": ("counter", ("route", "method", "status")),
    "football_api_request_duration_seconds": ("histogram", ("route",)),
    "football_api_model_info": ("gauge", ("name", "version")),
    "football_api_predictions_served_total": ("counter", ("route",)),
    "football_api_feature_misses_total": ("counter", ()),
    "football_api_cache_requests_total": ("counter", ("result",)),
    "football_model_rolling_rps": ("gauge", ("model",)),
    "football_closing_rolling_rps": ("gauge", ()),
    "football_data_freshness_seconds": ("gauge", ("asset",)),
    "football_model_age_seconds": ("gauge", ()),
}

# Exporter metrics the alerts and dashboards use. tests/deploy/test_monitoring.py checks each one
# against the /metrics of real postgres_exporter and redis_exporter processes.
POSTGRES_EXPORTER_METRICS: frozenset[str] = frozenset(
    {
        "pg_up",
        "pg_stat_database_numbackends",
        "pg_settings_max_connections",
        "pg_stat_database_xact_commit",
        "pg_stat_database_xact_rollback",
        "pg_stat_database_tup_inserted",
        "pg_stat_database_tup_updated",
        "pg_stat_database_tup_deleted",
        "pg_stat_database_blks_hit",
        "pg_stat_database_blks_read",
        "pg_stat_database_deadlocks",
        "pg_database_size_bytes",
        "pg_locks_count",
    }
)
REDIS_EXPORTER_METRICS: frozenset[str] = frozenset(
    {
        "redis_up",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_commands_processed_total",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_db_keys",
        "redis_connected_clients",
        "redis_evicted_keys_total",
    }
)
# Written by Prometheus itself for every scrape target.
PROMETHEUS_SYNTHETIC_METRICS: frozenset[str] = frozenset({"up"})


def exposed_sample_names(name: str, kind: str) -> set[str]:
    """Sample names a Prometheus client library writes for one metric family."""
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    if kind == "summary":
        return {name, f"{name}_sum", f"{name}_count"}
    return {name}


def all_queryable_names() -> set[str]:
    """Every series name an alert or a dashboard may query."""
    names: set[str] = set()
    for name, (kind, _labels) in API_METRICS.items():
        names |= exposed_sample_names(name, kind)
    return names | POSTGRES_EXPORTER_METRICS | REDIS_EXPORTER_METRICS | PROMETHEUS_SYNTHETIC_METRICS
