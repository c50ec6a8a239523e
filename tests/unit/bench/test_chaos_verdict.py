"""The chaos harness's counting: what is lost, what is duplicated, what passes."""

from typing import Any

from bench.chaos.faults import UNKNOWN_SCHEMA_ID, spoiled
from bench.chaos.slot import slot_rules
from bench.chaos.verdict import Counts, Outcome, destination_counts, inbound_counts, outbound_counts


def figures(acked: int, duplicated: int = 0, without_effect: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "acked_keys": acked,
        "effects": {"duplicated_keys": duplicated},
        "sent_without_effect": without_effect,
    }


def test_every_owed_acknowledgement_there_is_nothing_lost() -> None:
    assert destination_counts(10, figures(10)) == Counts(10, 10, 0, 0)


def test_owed_acknowledgements_missing_from_the_ledger_are_lost() -> None:
    assert destination_counts(10, figures(7)) == Counts(10, 7, 3, 0)


def test_acknowledged_but_never_applied_at_the_vendor_is_lost_too_except_preconditions() -> None:
    applied_nowhere = figures(10, without_effect={"member.upsert": 2, "member.ensure": 5})
    assert destination_counts(10, applied_nowhere).lost == 2


def test_a_key_applied_twice_is_a_duplicated_effect() -> None:
    assert destination_counts(10, figures(10, duplicated=1)).duplicated == 1


def test_destinations_add_up() -> None:
    counts = outbound_counts(
        {"marketing": 5, "helpdesk": 3}, {"marketing": figures(5), "helpdesk": figures(2, 1)}
    )
    assert counts == Counts(8, 7, 1, 1)


def test_inbound_lost_when_not_finished_or_without_its_activity() -> None:
    sent = [("marketing", "a"), ("marketing", "b"), ("erp", "c")]
    finished = {("marketing", "a"): 1, ("marketing", "b"): 1}
    counts = inbound_counts(sent, finished, {("marketing", "a"): 1, ("marketing", "b"): 0})
    assert counts == Counts(3, 1, 2, 0)


def test_inbound_two_activities_for_one_event_are_duplicated() -> None:
    counts = inbound_counts([("marketing", "a")], {("marketing", "a"): 1}, {("marketing", "a"): 2})
    assert (counts.lost, counts.duplicated) == (0, 1)


def test_a_scenario_passes_only_clean_recovered_and_without_a_human() -> None:
    clean = Outcome("x", 10, Counts(10, 10, 0, 0), recover_s=3.0)
    assert clean.passed
    assert not Outcome("x", 10, Counts(10, 9, 1, 0), recover_s=3.0).passed
    assert not Outcome("x", 10, Counts(10, 10, 0, 0), recover_s=None).passed
    assert not Outcome("x", 10, Counts(10, 10, 0, 0), recover_s=3.0, needs_human="resume").passed


def test_slot_loss_passes_on_an_alert_within_30_seconds_whatever_was_lost() -> None:
    lost = Counts(10, 4, 6, 0)
    assert Outcome("slot", 10, lost, expect_human=True, alert_s=12.0).passed
    assert not Outcome("slot", 10, lost, expect_human=True, alert_s=None).passed


def test_slot_rules_are_found_with_their_hold_time() -> None:
    rules = """
      - alert: Lag
        expr: sum(cdc_sync_consumer_lag_messages) > 1
        for: 5m
      - alert: Slot
        expr: max(cdc_sync_replication_slot_lag_bytes) > 1
        for: 10m
        labels:
    """
    assert slot_rules(rules) == {"Slot": "10m"}


def test_poison_records_are_spoiled_three_ways() -> None:
    value = b"\x00\x00\x00\x00\x2a" + b"avro-body-bytes"
    bad = spoiled(value)
    assert bad["unknown_schema_id"][:5] == b"\x00" + UNKNOWN_SCHEMA_ID.to_bytes(4, "big")
    assert bad["bad_magic_byte"][0] != 0
    assert value.startswith(bad["truncated_avro"]) and len(bad["truncated_avro"]) < len(value)
