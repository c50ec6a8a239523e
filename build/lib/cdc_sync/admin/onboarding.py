"""What a captured table needs before its changes are worth streaming, as data: each check says
what is wrong, how to fix it, whether `connectors apply` refuses while it stands, and the SQL
`--prepare` runs for it (none: the DBA's decision).

- a primary key: Debezium keys the change events by it (per-key ordering, tombstones);
- `REPLICA IDENTITY FULL`: updates and deletes carry the whole old row (what changed, deletes
  that say what went);
- a `sync_origin` column and a trigger that sets it: a vendor's write carries its origin into
  the change stream, so it is not echoed back to that vendor;
- a destination that routes it (else it is captured for lookups only: said, not refused), and then
  a contract for its topic (`schemas/`), which every routed event is checked against.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass

ORIGIN_FUNCTION = "cdc_sync_origin"
# The triggers that set sync_origin: the demo CRM's own, or the one `--prepare` creates.
ORIGIN_TRIGGERS = ("crm_touch", ORIGIN_FUNCTION)
ORIGIN_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION public.{ORIGIN_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.sync_origin := nullif(current_setting('cdc_sync.origin', true), '');
  RETURN NEW;
END $$"""


@dataclass(frozen=True)
class TableFacts:
    table: str  # schema.table
    primary_key: bool
    replica_identity: str  # pg_class.relreplident: d(efault), f(ull), i(ndex), n(othing)
    sync_origin: bool  # the column exists
    origin_trigger: bool  # a trigger sets it


@dataclass(frozen=True)
class Problem:
    table: str
    what: str
    fix: str
    refuses: bool  # `connectors apply` stops while it stands
    prepare: tuple[str, ...] = ()  # the SQL `--prepare` runs (as the CRM's owner)

    def line(self) -> str:
        return f"{self.table}: {self.what} — {self.fix}"


@dataclass(frozen=True)
class Context:
    contracts: Collection[str]  # registry subjects with a contract
    routed: Collection[str]  # tables a destination gets
    topic_prefix: str


Check = Callable[[TableFacts, Context], Problem | None]


def _quoted(table: str) -> str:
    schema, _, name = table.partition(".")
    return f'"{schema}"."{name}"'


def _primary_key(facts: TableFacts, _: Context) -> Problem | None:
    if facts.primary_key:
        return None
    return Problem(facts.table, "no primary key", "add one: change events are keyed and ordered by it", True)


def _replica_identity(facts: TableFacts, _: Context) -> Problem | None:
    if facts.replica_identity == "f":
        return None
    sql = f"ALTER TABLE {_quoted(facts.table)} REPLICA IDENTITY FULL"
    what = f"replica identity is {_IDENTITIES.get(facts.replica_identity, facts.replica_identity)}, not FULL"
    return Problem(
        facts.table, what, f"{sql} (or --prepare): updates and deletes need the old row", True, (sql,)
    )


def _sync_origin(facts: TableFacts, _: Context) -> Problem | None:
    if facts.sync_origin and facts.origin_trigger:
        return None
    name, table = facts.table.partition(".")[2], _quoted(facts.table)
    column = () if facts.sync_origin else (f"ALTER TABLE {table} ADD COLUMN sync_origin text",)
    trigger = (
        ()
        if facts.origin_trigger
        else (
            ORIGIN_FUNCTION_SQL,
            f'CREATE OR REPLACE TRIGGER "{name}_sync_origin" BEFORE INSERT OR UPDATE ON {table} '
            f"FOR EACH ROW EXECUTE FUNCTION public.{ORIGIN_FUNCTION}()",
        )
    )
    what = "no sync_origin column" if not facts.sync_origin else "no trigger sets sync_origin"
    fix = "--prepare adds it: without it a vendor's write to this table would be echoed back to the vendor"
    return Problem(facts.table, what, fix, False, (*column, *trigger))


def _contract(facts: TableFacts, context: Context) -> Problem | None:
    """A routed table's events are checked against its contract (a lookup table's are not)."""
    subject = f"{context.topic_prefix}.{facts.table}-value"
    if subject in context.contracts or facts.table not in context.routed:
        return None
    fix = f"once its first change is registered: cdc-sync contracts accept {subject}"
    return Problem(facts.table, "no contract in schemas/", fix, False)


def _route(facts: TableFacts, context: Context) -> Problem | None:
    if facts.table in context.routed:
        return None
    fix = "captured for lookups only; add it to a destination's `tables` to deliver it"
    return Problem(facts.table, "no destination gets it", fix, False)


_IDENTITIES = {"d": "DEFAULT", "n": "NOTHING", "i": "USING INDEX"}
CHECKS: tuple[Check, ...] = (_primary_key, _replica_identity, _sync_origin, _contract, _route)


def problems(facts: list[TableFacts], context: Context) -> list[Problem]:
    return [found for table in facts for check in CHECKS if (found := check(table, context)) is not None]
