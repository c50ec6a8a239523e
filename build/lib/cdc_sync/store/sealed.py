"""Payload columns encrypted at rest: the column type seals on write and opens on read, so every
caller above the store reads and writes the values as they are.

The keys are the process's (like the log redactor's secrets): `install` them once, where the state
engine is made (`outbound.assembly.state_engine`); a column type has no other way to reach them.
"""

from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from cdc_sync.errors import ConfigError
from cdc_sync.sealing import Sealer

_installed: list[Sealer] = []


def install(sealer: Sealer) -> None:
    _installed[:] = [sealer]


def active() -> Sealer:
    if not _installed:
        raise ConfigError("no data keys loaded: the state engine is made by outbound.assembly.state_engine")
    return _installed[0]


class SealedJson(TypeDecorator[Any]):
    """A JSON(B) column whose values are stored sealed (`cdc_sync.sealing`); `name` (table.column)
    is authenticated with each value."""

    impl = JSON
    cache_ok = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return active().seal(value, self.name)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return active().open(value, self.name)


def sealed_json_text(column: ColumnElement[Any], value: Any) -> str:
    """A value sealed for a sealed column, as the JSON text a raw statement binds (`CAST(:x AS jsonb)`)."""
    return orjson.dumps(active().seal(value, sealed_name(column))).decode()


def sealed_name(column: ColumnElement[Any]) -> str:
    """The name a sealed column authenticates its values with."""
    assert isinstance(column.type, SealedJson), f"{column} is not a sealed column"
    return column.type.name
