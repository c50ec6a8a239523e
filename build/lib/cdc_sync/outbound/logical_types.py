"""Debezium's semantic types, turned into Python values.

fastavro already decodes Avro logical types (decimal, timestamp-millis, ...). Debezium marks
its own types with `connect.name` on the Avro schema instead (`io.debezium.time.ZonedTimestamp`
is a plain string, `MicroTimestamp` a plain long), so the schema is read once per schema id
to build a converter per field, and each decoded row goes through it.
"""

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

Convert = Callable[[Any], Any]

_EPOCH = datetime(1970, 1, 1)


def _zoned_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _since_epoch(unit: timedelta) -> Convert:
    return lambda value: _EPOCH + value * unit


def _time_of_day(unit: timedelta) -> Convert:
    return lambda value: (_EPOCH + value * unit).time()


def _date(days: int) -> date:
    return date(1970, 1, 1) + timedelta(days=days)


def _variable_scale_decimal(value: Mapping[str, Any]) -> Decimal:
    unscaled = int.from_bytes(value["value"], "big", signed=True)
    return Decimal(unscaled).scaleb(-int(value["scale"]))


SEMANTIC_TYPES: dict[str, Convert] = {
    "io.debezium.time.ZonedTimestamp": _zoned_timestamp,
    "io.debezium.time.Timestamp": _since_epoch(timedelta(milliseconds=1)),
    "io.debezium.time.MicroTimestamp": _since_epoch(timedelta(microseconds=1)),
    "io.debezium.time.NanoTimestamp": _since_epoch(timedelta(microseconds=0.001)),
    "io.debezium.time.Date": _date,
    "io.debezium.time.Time": _time_of_day(timedelta(milliseconds=1)),
    "io.debezium.time.MicroTime": _time_of_day(timedelta(microseconds=1)),
    "io.debezium.time.NanoTime": _time_of_day(timedelta(microseconds=0.001)),
    "io.debezium.data.Json": json.loads,
    "io.debezium.data.VariableScaleDecimal": _variable_scale_decimal,
}


def _semantic_name(field_type: Any) -> str | None:
    """The `connect.name` of a field's type, looking through a nullable union."""
    if isinstance(field_type, list):
        branches = [branch for branch in field_type if branch != "null"]
        return _semantic_name(branches[0]) if len(branches) == 1 else None
    if isinstance(field_type, dict):
        name = field_type.get("connect.name")
        return name if isinstance(name, str) else None
    return None


class RowConverter:
    """Converts the fields of one Avro record schema that carry a Debezium semantic type."""

    def __init__(self, record_schema: Mapping[str, Any]) -> None:
        self._converters: dict[str, Convert] = {}
        for field in record_schema.get("fields", []):
            name = _semantic_name(field["type"])
            if name in SEMANTIC_TYPES:
                self._converters[field["name"]] = SEMANTIC_TYPES[name]

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        for field, convert in self._converters.items():
            value = row.get(field)
            if value is not None:
                row[field] = convert(value)
        return row
