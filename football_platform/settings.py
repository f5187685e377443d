"""The one module that reads the environment.

Everything configurable about a deployment comes from here: the active profile
(``FOOTBALL_ENV=local|prod``) and the locations of the stores. Other modules ask
:func:`get_settings` and never touch ``os.environ`` themselves, so a test can
build a :class:`Settings` by hand and pass it down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
FEATURE_REPO_DIR = PROJECT_ROOT / "feature_repo"
DEFAULT_SOURCE = "https://www.football-data.co.uk/mmz4281"
DEFAULT_LEAGUES = ("E0", "E1", "SP1", "D1", "I1", "F1")
PROFILES = ("local", "prod")


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    profile: str = "local"
    data_source: str = DEFAULT_SOURCE
    leagues: tuple[str, ...] = DEFAULT_LEAGUES
    state_dir: Path = PROJECT_ROOT / ".football"
    warehouse_path: Path = PROJECT_ROOT / ".football" / "warehouse.duckdb"
    # repr=False on every field that may carry a password or key: a Settings object printed in a log or a
    # traceback must not leak them.
    database_url: str | None = field(default=None, repr=False)
    # Feast's SQL registry (prod profile). None: the warehouse database (``database_url``).
    feast_registry_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    redis_key_prefix: str = "football"
    mlflow_tracking_uri: str = ""
    dagster_home: Path = PROJECT_ROOT / ".football" / "dagster_home"
    as_of: str | None = None
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # FOOTBALL_API_KEYS: scope read
    admin_keys: tuple[str, ...] = field(default=(), repr=False)  # FOOTBALL_ADMIN_KEYS: read, admin and metrics
    metrics_keys: tuple[str, ...] = field(default=(), repr=False)  # FOOTBALL_METRICS_KEYS: metrics (Prometheus)
    alert_webhook_url: str | None = field(default=None, repr=False)
    # Field -> the process environment variable its value was read from, for the fields that may carry a secret.
    # Resources pass those as ``dg.EnvVar(name)`` so the Dagster UI shows the variable's name, never its value.
    secret_env: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_prod(self) -> bool:
        return self.profile == "prod"

    @property
    def warehouse_kind(self) -> str:
        return "postgres" if self.is_prod else "duckdb"

    def env_source(self, name: str) -> str | None:
        """The environment variable field ``name`` was read from, while the process environment still holds that
        value (a ``dataclasses.replace``-d field no longer does); None for a value given by hand or a default."""
        variable = self.secret_env.get(name)
        value = getattr(self, name)
        return variable if variable and value and os.environ.get(variable) == value else None

    @property
    def feast_registry_database_url(self) -> str | None:
        """Where Feast's SQL registry lives: ``FEAST_REGISTRY_URL``, else the warehouse's ``DATABASE_URL``."""
        return self.feast_registry_url or self.database_url


def _csv(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _postgres_url(name: str, value: str | None) -> str | None:
    """A PostgreSQL URL from the environment, or None when unset. Errors name the variable, never the value
    (it carries the password)."""
    if not value:
        return None
    parts = urlsplit(value.strip())
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in ("postgres", "postgresql"):
        raise ValueError(f"{name} must be a postgresql:// URL (got scheme {parts.scheme!r})")
    try:
        parts.port  # noqa: B018 - raises on a non-numeric port
    except ValueError:
        raise ValueError(f"{name} has an invalid port") from None
    return value.strip()


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from the environment (or a given mapping, for tests)."""
    env = os.environ if environ is None else environ
    profile = env.get("FOOTBALL_ENV", "local").strip().lower() or "local"
    if profile not in PROFILES:
        raise ValueError(f"FOOTBALL_ENV must be one of {PROFILES}, got {profile!r}")
    state_dir = Path(env.get("FOOTBALL_STATE_DIR", str(PROJECT_ROOT / ".football")))
    database_url = env.get("DATABASE_URL") or None
    if profile == "prod" and not database_url:
        raise ValueError("FOOTBALL_ENV=prod needs DATABASE_URL (postgresql://user@host:5432/warehouse)")
    # Feast's SQL registry gets its own database in every deployment (feast_registry); unset, it shares the
    # warehouse's, so a single-database setup keeps working.
    feast_registry_url = _postgres_url("FEAST_REGISTRY_URL", env.get("FEAST_REGISTRY_URL")) or database_url
    default_mlflow = f"sqlite:///{state_dir / 'mlflow.db'}"
    redis_url = env.get("REDIS_URL") or ("redis://127.0.0.1:6379/0" if profile == "prod" else None)
    alert_webhook_url = env.get("FOOTBALL_ALERT_WEBHOOK_URL") or None
    secret_env: dict[str, str] = {}
    if environ is None:  # only the process environment can be read back by name (dg.EnvVar) in a run
        candidates = {"database_url": (database_url, ("DATABASE_URL",)),
                      "feast_registry_url": (feast_registry_url, ("FEAST_REGISTRY_URL", "DATABASE_URL")),
                      "redis_url": (redis_url, ("REDIS_URL",)),
                      "alert_webhook_url": (alert_webhook_url, ("FOOTBALL_ALERT_WEBHOOK_URL",))}
        for name, (value, variables) in candidates.items():
            source = next((var for var in variables if value and env.get(var) == value), None)
            if source:
                secret_env[name] = source
    return Settings(
        profile=profile,
        data_source=env.get("FOOTBALL_DATA_SOURCE", DEFAULT_SOURCE),
        leagues=_csv(env.get("FOOTBALL_LEAGUES"), DEFAULT_LEAGUES),
        state_dir=state_dir,
        warehouse_path=Path(env.get("FOOTBALL_WAREHOUSE", str(state_dir / "warehouse.duckdb"))),
        database_url=database_url,
        feast_registry_url=feast_registry_url,
        redis_url=redis_url,
        redis_key_prefix=env.get("FOOTBALL_REDIS_PREFIX", "football"),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", default_mlflow),
        dagster_home=Path(env.get("DAGSTER_HOME", str(state_dir / "dagster_home"))),
        as_of=env.get("FOOTBALL_AS_OF") or None,
        api_keys=_csv(env.get("FOOTBALL_API_KEYS"), ()),
        admin_keys=_csv(env.get("FOOTBALL_ADMIN_KEYS"), ()),
        metrics_keys=_csv(env.get("FOOTBALL_METRICS_KEYS"), ()),
        alert_webhook_url=alert_webhook_url,
        secret_env=secret_env,
    )
