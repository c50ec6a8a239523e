"""Reconciliation, the pure part: what the vendor should hold, what differs, how much.

The expected side is not a second mapping. It is folded from the very requests delivery would
send for the CRM's current rows (fresh events through `plan_fresh`), applied the way the
vendor applies them, so reconciliation cannot disagree with delivery about what "in sync"
means. Only fields cdc-sync sends are compared; fields the vendor keeps for itself are not.

    expected records (from deliveries) ─┐
                                        ├─ compare → RecordComparison per key → summarize
    vendor records (from its API pages) ┘
"""

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cdc_sync.events import ChangeEvent
from cdc_sync.mapping.normalize import PHONE_UNFORMATTED_TAG
from cdc_sync.model.reconcile import Record
from cdc_sync.outbound.loop_guard import ORIGIN_COLUMN
from cdc_sync.rules.consent import OPTED_OUT

__all__ = ["Record"]  # re-exported: callers compare records through this module

Result = Literal["match", "missing", "extra", "differing"]
RESULTS: tuple[Result, ...] = ("match", "missing", "extra", "differing")
NOT_RECONCILABLE = "not reconcilable (write-only webhook)"
EXTRAS_KEPT = "extra records are reported, not deleted: deleting vendor data is not cdc-sync's call"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FieldDifference(_Frozen):
    field: str
    crm: Any
    vendor: Any


class RecordComparison(_Frozen):
    key: str
    result: Result
    contacts: tuple[int, ...] = ()
    label: str = ""
    fields: tuple[FieldDifference, ...] = ()  # differing fields; every expected field when missing

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(f"contact:{contact}" for contact in self.contacts)


class FixSummary(_Frozen):
    confirmed: bool
    note: str | None = None
    records: int = 0  # records corrections were pushed for
    fixed: int = 0  # all their deliveries acknowledged by the vendor
    failed: int = 0  # some delivery dead-lettered (see `cdc-sync dlq list`)
    held: int = 0  # the destination is paused: held, delivered on resume
    consent_kept: int = 0  # the vendor's unsubscribe wins: status not pushed
    remaining: int | None = None  # differences left, extras included, after re-reading
    difference_rate_after: float | None = None


class DestinationReport(_Frozen):
    destination: str
    kind: str
    reconcilable: bool = True
    note: str | None = None
    sample: int | None = None  # contacts sampled; None for a full run (with extra-detection)
    compared: int = 0  # the union of expected and vendor keys
    counts: dict[Result, int] = {}
    not_expected: int = 0  # CRM contacts delivery never sends (no or invalid email, say)
    difference_rate: float = 0.0
    differences: tuple[RecordComparison, ...] = ()
    fix: FixSummary | None = None

    @property
    def different(self) -> int:
        return len(self.differences)


def as_crm_state(event: ChangeEvent) -> ChangeEvent:
    """The row as the CRM holds it, whoever wrote it last.

    Echo suppression keeps a vendor's own live change from bouncing back; reconciliation
    compares with the CRM's current state, so a row the inbound writer wrote still counts.
    """
    if event.after is None or ORIGIN_COLUMN not in event.after:
        return event
    after = {name: value for name, value in event.after.items() if name != ORIGIN_COLUMN}
    return event.model_copy(update={"after": after})


def sample_ids(ids: Sequence[int], size: int | None, rng: random.Random) -> list[int]:
    """All ids, or a uniform random sample of `size` of them, in id order."""
    if size is None or size >= len(ids):
        return list(ids)
    return sorted(rng.sample(list(ids), size))


def index_vendor(records: Iterable[Record | None]) -> tuple[dict[str, Record], list[Record]]:
    """Vendor records by key, and the duplicates (another record under a key already seen).

    The same record seen twice is not a duplicate: offset paging repeats one when the list
    changes between pages (a vendor's keys are unique within its list)."""
    by_key: dict[str, Record] = {}
    duplicates: list[Record] = []
    for record in records:
        if record is None or by_key.get(record.key) == record:
            continue
        if record.key in by_key:
            duplicates.append(record)
        else:
            by_key[record.key] = record
    return by_key, duplicates


def _same_value(crm: Any, vendor: Any) -> bool:
    # An empty string and no value at all mean the same to both vendors.
    return (crm if crm != "" else None) == (vendor if vendor != "" else None)


def _same_tags(crm: Any, vendor: Any) -> bool:
    # cdc-sync sets phone_unformatted but never takes it off, so only its absence is drift.
    left_over = set(vendor or ()) - set(crm) - {PHONE_UNFORMATTED_TAG}
    return set(crm) <= set(vendor or ()) and not left_over


SAME: dict[str, Callable[[Any, Any], bool]] = {"tags": _same_tags}


def compare_record(expected: Record, vendor: Record | None) -> RecordComparison:
    base = {"key": expected.key, "contacts": expected.contacts}
    if vendor is None:
        fields = tuple(FieldDifference(field=n, crm=v, vendor=None) for n, v in expected.fields.items())
        return RecordComparison(result="missing", fields=fields, **base)
    differing = tuple(
        FieldDifference(field=name, crm=value, vendor=vendor.fields.get(name))
        for name, value in expected.fields.items()
        if not SAME.get(name, _same_value)(value, vendor.fields.get(name))
    )
    result: Result = "differing" if differing else "match"
    return RecordComparison(result=result, fields=differing, label=vendor.label, **base)


def compare(
    expected: Mapping[str, Record], vendor: Mapping[str, Record], duplicates: Sequence[Record] = ()
) -> list[RecordComparison]:
    """Each expected key against the vendor; in a full run (all vendor records passed) also
    each vendor record nobody expects, and each duplicate, as `extra`."""
    compared = [compare_record(record, vendor.get(key)) for key, record in expected.items()]
    unexpected = [record for key, record in vendor.items() if key not in expected]
    extras = [RecordComparison(key=r.key, result="extra", label=r.label) for r in unexpected]
    doubles = [RecordComparison(key=r.key, result="extra", label=f"duplicate {r.label}") for r in duplicates]
    return compared + extras + doubles


def difference_rate(counts: Mapping[Result, int]) -> float:
    """(missing + extra + differing) / max(1, records compared)."""
    different = sum(counts.get(result, 0) for result in ("missing", "extra", "differing"))
    return different / max(1, sum(counts.values()))


def summarize(
    destination: str,
    kind: str,
    comparisons: Sequence[RecordComparison],
    not_expected: int = 0,
    sample: int | None = None,
) -> DestinationReport:
    found = Counter(comparison.result for comparison in comparisons)
    counts: dict[Result, int] = {result: found.get(result, 0) for result in RESULTS}
    return DestinationReport(
        destination=destination,
        kind=kind,
        sample=sample,
        compared=len(comparisons),
        counts=counts,
        not_expected=not_expected,
        difference_rate=difference_rate(counts),
        differences=tuple(c for c in comparisons if c.result != "match"),
    )


def not_reconcilable(destination: str, kind: str) -> DestinationReport:
    return DestinationReport(destination=destination, kind=kind, reconcilable=False, note=NOT_RECONCILABLE)


@dataclass(frozen=True)
class FixTarget:
    """A record to correct through the normal delivery path, and what that push must leave out."""

    comparison: RecordComparison
    stale_tags: tuple[str, ...] = ()  # at the vendor, known to the CRM, no longer on the contact
    consent_kept: bool = False  # the vendor has the contact opted out and the CRM subscribed


def _field(comparison: RecordComparison, name: str) -> FieldDifference | None:
    return next((f for f in comparison.fields if f.field == name), None)


def _stale_tags(comparison: RecordComparison) -> tuple[str, ...]:
    tags = _field(comparison, "tags")
    if tags is None or tags.vendor is None:
        return ()
    return tuple(sorted(set(tags.vendor) - set(tags.crm) - {PHONE_UNFORMATTED_TAG}))


def _consent_kept(comparison: RecordComparison) -> bool:
    """An unsubscribe wins everywhere: a vendor-side opt-out is never pushed over."""
    status = _field(comparison, "status")
    return status is not None and status.vendor in OPTED_OUT and status.crm == "subscribed"


def fix_targets(comparisons: Iterable[RecordComparison]) -> list[FixTarget]:
    """Missing and differing records; extras are left alone (`EXTRAS_KEPT`), and so is a record
    whose only difference is an opt-out at the vendor (there is nothing to push)."""
    targets = [
        FixTarget(comparison, _stale_tags(comparison), _consent_kept(comparison))
        for comparison in comparisons
        if comparison.result in ("missing", "differing") and comparison.contacts
    ]
    return [t for t in targets if not (t.consent_kept and len(t.comparison.fields) == 1)]


def fix_audit(
    comparison: RecordComparison, consent_kept: bool = False
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(before, after) of a `reconcile.fix` record: vendor values, then CRM values, per field
    pushed (a status left standing for consent is not)."""
    pushed = [f for f in comparison.fields if not (consent_kept and f.field == "status")]
    after = {difference.field: difference.crm for difference in pushed}
    if comparison.result == "missing":
        return None, after
    return {difference.field: difference.vendor for difference in pushed}, after


def after_fix(report: DestinationReport, rechecked: Mapping[str, RecordComparison]) -> tuple[int, float]:
    """(differences left, difference rate) once re-read records replace their earlier results."""
    results = [
        c.result if c.result == "extra" else rechecked.get(c.key, c).result for c in report.differences
    ]
    remaining = sum(1 for result in results if result != "match")
    return remaining, remaining / max(1, report.compared)


def fix_summary(
    report: DestinationReport,
    targets: Sequence[FixTarget],
    rechecked: Mapping[str, RecordComparison],
    failed: AbstractSet[str] = frozenset(),
    held: AbstractSet[str] = frozenset(),
) -> FixSummary:
    """What a fix did: records pushed, matching on re-read, dead-lettered or held (by entity),
    opt-outs left standing."""

    def touched(entities: AbstractSet[str]) -> int:
        return sum(1 for target in targets if set(target.comparison.entities) & entities)

    remaining, rate = after_fix(report, rechecked)
    return FixSummary(
        confirmed=True,
        records=len(targets),
        fixed=sum(1 for comparison in rechecked.values() if comparison.result == "match"),
        failed=touched(failed),
        held=touched(held),
        consent_kept=sum(1 for comparison in report.differences if _consent_kept(comparison)),
        remaining=remaining,
        difference_rate_after=rate,
    )
