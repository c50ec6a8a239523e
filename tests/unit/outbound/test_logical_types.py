"""Debezium semantic types become Python values."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.outbound.logical_types import RowConverter


def converter_for(connect_name: str, nullable: bool = True) -> RowConverter:
    field_type = {"type": "long", "connect.name": connect_name}
    return RowConverter({"fields": [{"name": "v", "type": ["null", field_type] if nullable else field_type}]})


def test_zoned_timestamp_keeps_its_offset_as_aware_datetime() -> None:
    row = converter_for("io.debezium.time.ZonedTimestamp")({"v": "2026-03-01T10:00:00.5Z"})
    assert row["v"] == datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)


def test_epoch_based_types() -> None:
    assert converter_for("io.debezium.time.MicroTimestamp")({"v": 1_500_000})["v"] == datetime(
        1970, 1, 1, 0, 0, 1, 500000
    )
    assert converter_for("io.debezium.time.Timestamp")({"v": 86_400_000})["v"] == datetime(1970, 1, 2)
    assert converter_for("io.debezium.time.Date", nullable=False)({"v": 365})["v"] == date(1971, 1, 1)
    assert converter_for("io.debezium.time.MicroTime")({"v": 3_600_000_000})["v"] == time(1, 0)


def test_json_and_nulls() -> None:
    convert = converter_for("io.debezium.data.Json")
    assert convert({"v": '{"a": [1]}'})["v"] == {"a": [1]}
    assert convert({"v": None})["v"] is None


def test_plain_fields_are_untouched() -> None:
    convert = RowConverter({"fields": [{"name": "v", "type": "string"}]})
    assert convert({"v": "2026-03-01T10:00:00Z"})["v"] == "2026-03-01T10:00:00Z"


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=0, max_value=20))
def test_variable_scale_decimal_round_trips(unscaled: int, scale: int) -> None:
    raw = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
    row = converter_for("io.debezium.data.VariableScaleDecimal")({"v": {"scale": scale, "value": raw}})
    assert row["v"] == Decimal(unscaled).scaleb(-scale)
