"""The retention limits as cut-off times, and the config that sets them."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cdc_sync.config import RetentionConfig
from cdc_sync.repair.retention import cutoffs

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_only_the_tables_with_a_limit_get_a_cutoff() -> None:
    limits = cutoffs(RetentionConfig(ledger_days=30, dead_letters_days=0.5), NOW)
    assert limits == {"deliveries": NOW - timedelta(days=30), "dead_letters": NOW - timedelta(hours=12)}
    assert cutoffs(RetentionConfig(), NOW) == {}  # nothing set: everything is kept


@pytest.mark.parametrize("field", ["ledger_days", "inbox_days", "audit_days", "interval_s", "batch"])
def test_a_limit_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError):
        RetentionConfig(**{field: 0})
