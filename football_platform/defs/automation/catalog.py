"""What the other domains define: asset keys, groups, checks and freshness policies.

Automation is built *from* the other domains' Definitions, so freshness checks
and the health report only ever name assets that exist (a check on a missing
asset would fail ``dagster definitions validate``), and jobs selected by group
simply grow when a domain adds assets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg


@dataclass(frozen=True)
class AssetInfo:
    key: dg.AssetKey
    group_name: str | None
    fail_window_seconds: float | None = None  # from a time-window FreshnessPolicy, when the asset has one
    partition_keys: tuple[str, ...] = ()  # static partitions only (the season partitions of raw_matches)


@dataclass(frozen=True)
class Catalog:
    assets: dict[dg.AssetKey, AssetInfo] = field(default_factory=dict)
    checks: dict[dg.AssetKey, tuple[dg.AssetCheckKey, ...]] = field(default_factory=dict)

    def has(self, key: str | dg.AssetKey) -> bool:
        return dg.AssetKey.from_coercible(key) in self.assets

    def with_checks(self, extra: Iterable[dg.AssetCheckKey]) -> Catalog:
        checks = {k: list(v) for k, v in self.checks.items()}
        for key in extra:
            if key not in checks.setdefault(key.asset_key, []):
                checks[key.asset_key].append(key)
        return Catalog(self.assets, {k: tuple(v) for k, v in checks.items()})


def _fail_window_seconds(spec: dg.AssetSpec) -> float | None:
    policy = spec.freshness_policy
    window = getattr(policy, "fail_window", None) if policy is not None else None
    seconds = getattr(window, "total_seconds", None)
    if callable(seconds):
        return float(seconds())
    # TimeWindowFreshnessPolicy stores a SerializableTimeDelta; read its parts without importing it.
    if window is not None and hasattr(window, "days"):
        return float(window.days * 86400 + window.seconds + window.microseconds / 1e6)
    return None


def _specs(domains: Sequence[dg.Definitions]) -> Iterable[dg.AssetSpec]:
    # Read straight from the definitions: resolving a repository would demand every resource (the lead adds them
    # after merging), and this runs before that.
    for domain in domains:
        for definition in domain.assets or []:
            if isinstance(definition, dg.AssetsDefinition):
                yield from (definition.get_asset_spec(key) for key in definition.keys)
            elif isinstance(definition, dg.AssetSpec):
                yield definition


def catalog_of(domains: Sequence[dg.Definitions]) -> Catalog:
    """Asset keys, groups and check keys of the given domains (not resolved against resources)."""
    assets = {
        spec.key: AssetInfo(
            spec.key,
            spec.group_name or "default",
            _fail_window_seconds(spec),
            tuple(spec.partitions_def.get_partition_keys())
            if isinstance(spec.partitions_def, dg.StaticPartitionsDefinition)
            else (),
        )
        for spec in _specs(domains)
    }
    checks: dict[dg.AssetKey, list[dg.AssetCheckKey]] = {}
    for domain in domains:
        for definition in [*(domain.assets or []), *(domain.asset_checks or [])]:
            for check_spec in getattr(definition, "check_specs", None) or []:
                keys = checks.setdefault(check_spec.key.asset_key, [])
                if check_spec.key not in keys:
                    keys.append(check_spec.key)
    return Catalog(assets, {k: tuple(v) for k, v in checks.items()})
