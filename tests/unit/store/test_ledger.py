"""The ledger's buffer: rows in table order, nothing dropped by a failed flush, callbacks after."""

from datetime import UTC, datetime

import pytest

from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Delivery, Outcome, VendorRequest
from cdc_sync.store.ledger import COLUMNS, AttemptRow, LedgerWriter, VendorRef, attempt_row
from cdc_sync.store.tables import deliveries

DELIVERY = Delivery(
    destination="d",
    entity="contact:1",
    table="public.contacts",
    operation="member.upsert",
    request=VendorRequest(method="PUT", path="/m"),
    idempotency_key="k1",
    source=SourcePosition(topic="t", partition=2, offset=9, lsn=77, tx_id=1, commit_ts=datetime.now(UTC)),
)


class FlakyLedger(LedgerWriter):
    """A database that refuses the first `failures` writes."""

    def __init__(self, failures: int) -> None:
        super().__init__(engine=None)  # type: ignore[arg-type]
        self.failures = failures
        self.written: list[AttemptRow] = []
        self.refs: list[VendorRef] = []

    def _copy(self, rows: list[AttemptRow], refs: list[VendorRef]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database down")
        self.written.extend(rows)
        self.refs.extend(refs)


def row(n: int) -> AttemptRow:
    return attempt_row(DELIVERY, n, Outcome(200, 0.01), "ok", datetime.now(UTC))


def test_rows_follow_the_tables_columns() -> None:
    assert set(COLUMNS) == {column.name for column in deliveries.columns} - {"id"}
    values = dict(zip(COLUMNS, row(1), strict=True))
    assert values["kafka_partition"] == 2 and values["lsn"] == 77 and values["error"] is None


def test_a_failed_flush_keeps_its_rows_and_waits_with_its_callbacks() -> None:
    ledger, durable = FlakyLedger(failures=1), []
    ledger.add(row(1))
    ledger.when_durable(lambda: durable.append("first"))
    with pytest.raises(ConnectionError):
        ledger.flush()
    assert durable == []  # its offset must not move on: the row is not in the database
    ledger.add(row(2))
    ledger.when_durable(lambda: durable.append("second"))
    assert ledger.flush() == 2
    assert [r[COLUMNS.index("attempt")] for r in ledger.written] == [1, 2]  # in order
    assert durable == ["first", "second"]


def test_callbacks_without_rows_still_run() -> None:
    ledger, durable = FlakyLedger(failures=0), []
    ledger.when_durable(lambda: durable.append(True))
    assert ledger.flush() == 0 and durable == [True]


def test_superseded_rows_carry_no_error() -> None:
    superseded = attempt_row(DELIVERY, 0, Outcome(None, 0.0), "superseded", datetime.now(UTC))
    assert dict(zip(COLUMNS, superseded, strict=True))["error"] is None


def test_vendor_refs_survive_a_failed_flush_and_the_newest_of_one_id_wins() -> None:
    ledger = FlakyLedger(failures=1)
    ledger.add_ref(VendorRef("helpdesk", "901", "contact:1", "helpdesk"))
    with pytest.raises(ConnectionError):
        ledger.flush()
    ledger.add_ref(VendorRef("helpdesk", "901", "contact:2", "helpdesk"))  # the vendor re-pointed it
    ledger.add_ref(VendorRef("helpdesk", "902", "contact:3", "helpdesk"))
    ledger.flush()
    assert sorted((r.vendor_ref, r.entity) for r in ledger.refs) == [
        ("901", "contact:2"),
        ("902", "contact:3"),
    ]
