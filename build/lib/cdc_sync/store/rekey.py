"""Re-sealing the payload columns under the current data key (`cdc-sync keys rotate`, SQL): rows
sealed with another key, or still in clear, are opened and written again, a batch of rows per
transaction under row locks, in id order so an interrupted rotation resumes where it stopped."""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    Table,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from cdc_sync.errors import SealedUnreadable
from cdc_sync.sealing import MARK, VERSION, Sealer, is_sealed, sealed_kid
from cdc_sync.store.sealed import SealedJson, active, sealed_name
from cdc_sync.store.tables import metadata

Progress = Callable[[str, int, int], None]  # (table, rows re-sealed so far, rows to re-seal)


@dataclass(frozen=True)
class Target:
    """A table with sealed columns, and its key (the order rows are re-sealed in)."""

    table: Table
    key: Column[Any]
    columns: tuple[Column[Any], ...]


def targets() -> list[Target]:
    found = []
    for table in metadata.sorted_tables:
        sealed = tuple(column for column in table.columns if isinstance(column.type, SealedJson))
        if sealed:
            (key,) = table.primary_key.columns
            found.append(Target(table, key, sealed))
    return found


def needs_resealing(stored: Any, kid: str | None) -> bool:
    """Whether a stored value is not as the current key (or, with none, plaintext) would write it."""
    if stored is None:
        return False
    return sealed_kid(stored) != kid if kid is not None else is_sealed(stored)


def _stale(column: Column[Any], kid: str | None) -> ColumnElement[bool]:
    """SQL's side of `needs_resealing` (a prefilter; the rows it finds are judged again in Python)."""
    raw = type_coerce(column, JSONB)
    mark = func.coalesce(raw[MARK].astext, "")
    if kid is None:
        return mark == str(VERSION)
    sealed_here = and_(mark == str(VERSION), func.coalesce(raw["kid"].astext, "") == kid)
    return and_(column.is_not(None), func.jsonb_typeof(raw) != "null", ~sealed_here)


def count_stale(engine: Engine, target: Target, kid: str | None) -> int:
    where = or_(*(_stale(column, kid) for column in target.columns))
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(target.table).where(where)).scalar_one())


def reseal_batch(engine: Engine, target: Target, after: int, batch: int) -> tuple[int, int | None]:
    """Re-seal the next `batch` stale rows with a key above `after` under the installed keys, in
    one transaction; returns how many and the last key (None when there were none left)."""
    sealer = active()
    kid = sealer.current_kid
    raw = [type_coerce(column, JSONB).label(column.name) for column in target.columns]
    where = or_(*(_stale(column, kid) for column in target.columns))
    statement = (
        select(target.key, *raw)
        .where(target.key > after, where)
        .order_by(target.key)
        .limit(batch)
        .with_for_update()
    )
    with engine.begin() as conn:
        rows = conn.execute(statement).mappings().all()
        changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            values = _opened(sealer, target, row)
            if values:
                changes.setdefault(tuple(values), []).append({**values, "_key": row[target.key.name]})
        for names, params in changes.items():  # one executemany per set of stale columns
            conn.execute(_rewrite(target, names), params)
    return len(rows), (int(rows[-1][target.key.name]) if rows else None)


def _rewrite(target: Target, names: tuple[str, ...]) -> Update:
    """UPDATE of these columns by key; the values bind as the sealed type, so they are sealed."""
    columns = {column.name: column for column in target.columns}
    values = {name: bindparam(name, type_=columns[name].type) for name in names}
    return update(target.table).where(target.key == bindparam("_key")).values(values)


def _opened(sealer: Sealer, target: Target, row: Any) -> dict[str, Any]:
    """The row's stale columns opened (written back, the column type seals them again)."""
    values = {}
    for column in target.columns:
        stored = row[column.name]
        if needs_resealing(stored, sealer.current_kid):
            try:
                values[column.name] = sealer.open(stored, sealed_name(column))
            except SealedUnreadable as exc:
                raise SealedUnreadable(f"{target.table.name} {row[target.key.name]}: {exc}") from exc
    return values


def reseal_all(
    engine: Engine, batch: int, progress: Progress | None = None, tables: Collection[str] = ()
) -> dict[str, int]:
    """Every sealed column of every table (or of `tables`) under the installed current key; rows
    re-sealed per table."""
    done: dict[str, int] = {}
    for target in (t for t in targets() if not tables or t.table.name in tables):
        name, total = target.table.name, count_stale(engine, target, active().current_kid)
        done[name], after = 0, 0
        while total:
            count, last = reseal_batch(engine, target, after, batch)
            if last is None:
                break
            done[name], after = done[name] + count, last
            if progress:
                progress(name, done[name], total)
    return done
