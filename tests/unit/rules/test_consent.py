"""Unsubscribe wins; a re-subscribe needs newer consent evidence."""

from datetime import UTC, datetime

import pytest

from cdc_sync.errors import RejectedEvent
from cdc_sync.rules.consent import check_resubscribe

UNSUBSCRIBED = {"status": "unsubscribed", "unsubscribed_at": datetime(2026, 5, 1, tzinfo=UTC)}


def test_resubscribe_with_newer_consent_and_source_is_accepted() -> None:
    after = {
        "status": "subscribed",
        "consent_timestamp": datetime(2026, 6, 1, tzinfo=UTC),
        "consent_source": "form",
    }
    check_resubscribe(UNSUBSCRIBED, after, "contact 1")


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        (
            {"status": "subscribed", "consent_timestamp": datetime(2026, 6, 1, tzinfo=UTC)},
            "no consent_source",
        ),
        (
            {
                "status": "subscribed",
                "consent_timestamp": datetime(2026, 4, 1, tzinfo=UTC),
                "consent_source": "x",
            },
            "not newer",
        ),
        ({"status": "subscribed", "consent_source": "form"}, "not newer"),
    ],
)
def test_resubscribe_without_evidence_is_refused(after: dict[str, object], reason: str) -> None:
    with pytest.raises(RejectedEvent, match=reason):
        check_resubscribe(UNSUBSCRIBED, after, "contact 1")


def test_other_transitions_need_no_evidence() -> None:
    check_resubscribe(None, {"status": "subscribed"}, "contact 1")
    check_resubscribe({"status": "subscribed"}, {"status": "unsubscribed"}, "contact 1")
