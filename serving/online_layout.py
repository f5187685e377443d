"""Feast's online-store layouts, read directly: the API's request path (no Feast import, one round trip for
two teams). Only the API reads the online store this way; the Dagster side writes it through Feast.

Redis: one hash per team keyed by the serialized entity key + project name, one field per feature (murmur3 of
``view:field``) holding a protobuf ``Value``, plus ``_ts:<view>``. SQLite: one table per view.
"""

from __future__ import annotations

import struct
from typing import Any

from football_platform.lib.feature_rows import ENTITY, VIEW_FIELDS

# What serving reads: every field of the three team views (entity ``team``), view by view.
ONLINE_FIELDS: list[tuple[str, str]] = [(view, c) for view, (floats, strings) in VIEW_FIELDS.items()
                                        for c in floats + strings]
_STRING_VALUE_TYPE = 2  # feast.types.Value.ValueType.STRING


def entity_key_bytes(value: str, join_key: str = ENTITY) -> bytes:
    """Feast's ``serialize_entity_key`` (serialization version 3) of a one-column string entity key."""
    key, val = join_key.encode("utf-8"), value.encode("utf-8")
    return b"".join((struct.pack("<I", 1), struct.pack("<II", _STRING_VALUE_TYPE, len(key)), key,
                     struct.pack("<II", _STRING_VALUE_TYPE, len(val)), val))


def redis_entity_key(project: str, team: str) -> bytes:
    """Key of a team's Redis hash in Feast's Redis online store: serialized entity key + project name."""
    return entity_key_bytes(team) + project.encode("utf-8")


def redis_field(view: str, field: str) -> bytes:
    """Hash field of one feature in Feast's Redis layout: murmur3 (32-bit, unsigned, little-endian) of 'view:field'."""
    import mmh3

    return struct.pack("<I", mmh3.hash(f"{view}:{field}", signed=False))


def redis_timestamp_field(view: str) -> bytes:
    """Hash field holding a view's event timestamp (a protobuf Timestamp)."""
    return f"_ts:{view}".encode()


def redis_fields() -> list[bytes]:
    """The HMGET field list of one team: every ONLINE_FIELDS entry, then each view's timestamp field."""
    return [redis_field(v, f) for v, f in ONLINE_FIELDS] + [redis_timestamp_field(v) for v in VIEW_FIELDS]


def sqlite_table(project: str, view: str) -> str:
    """Table of one view in Feast's SQLite online store (one row per entity key and feature)."""
    return f"{project}_{view}"


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_value(raw: bytes | None) -> Any:
    """A serialized ``feast.types.Value`` -> Python scalar (None for an empty/null value).

    Handles the scalar kinds the team views use (double, float, int32/64, bool, string, bytes); list values
    raise ValueError. A hand decoder: importing Feast's protobuf modules loads all of Feast (seconds).
    """
    if not raw:
        return None
    tag, pos = _varint(raw, 0)
    number, wire = tag >> 3, tag & 7
    if wire == 1 and number == 5:  # double_val
        return struct.unpack_from("<d", raw, pos)[0]
    if wire == 2 and number in (1, 2):  # bytes_val, string_val
        length, pos = _varint(raw, pos)
        data = raw[pos:pos + length]
        return data.decode("utf-8") if number == 2 else bytes(data)
    if wire == 5 and number == 6:  # float_val
        return struct.unpack_from("<f", raw, pos)[0]
    if wire == 0 and number in (3, 4, 7, 8):  # int32, int64, bool, unix_timestamp
        value, _ = _varint(raw, pos)
        if number == 7:
            return bool(value)
        return value - (1 << 64) if value >= 1 << 63 else value
    if wire == 0 and number == 19:  # null_val
        return None
    raise ValueError(f"unsupported Feast value (field {number}, wire type {wire}): {bytes(raw[:16])!r}")


def decode_timestamp(raw: bytes | None) -> float | None:
    """A serialized ``google.protobuf.Timestamp`` -> epoch seconds (None when absent)."""
    if raw is None:
        return None
    seconds = nanos = 0
    pos = 0
    while pos < len(raw):
        tag, pos = _varint(raw, pos)
        value, pos = _varint(raw, pos)
        if tag >> 3 == 1:
            seconds = value - (1 << 64) if value >= 1 << 63 else value
        elif tag >> 3 == 2:
            nanos = value
    return seconds + nanos / 1e9
