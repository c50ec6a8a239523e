"""CRM vocabularies map onto vendor whitelists; anything unmapped falls back visibly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.mapping.enums import ENUM_MAPS, FALLBACK, WHITELISTS, EnumKind, EnumResult, map_enum


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (EnumKind.TICKET_STATUS, "new", "Open"),
        (EnumKind.TICKET_STATUS, "open", "Open"),
        (EnumKind.TICKET_STATUS, "pending", "Pending"),
        (EnumKind.TICKET_STATUS, "on_hold", "OnHold"),
        (EnumKind.TICKET_STATUS, "hold", "OnHold"),
        (EnumKind.TICKET_STATUS, "solved", "Resolved"),
        (EnumKind.TICKET_STATUS, "resolved", "Resolved"),
        (EnumKind.TICKET_STATUS, "closed", "Closed"),
        (EnumKind.TICKET_STATUS, "reopened", "Reopened"),
        (EnumKind.TICKET_PRIORITY, "urgent", "Urgent"),
        (EnumKind.TICKET_PRIORITY, "normal", "Normal"),
        (EnumKind.TICKET_CHANNEL, "mail", "Email"),
        (EnumKind.TICKET_CHANNEL, "twitter", "Social"),
        (EnumKind.TICKET_CHANNEL, "voice", "Phone"),
        (EnumKind.TICKET_CHANNEL, "chat", "Chat"),
        (EnumKind.TICKET_CHANNEL, "other", "Other"),
        (EnumKind.LIFECYCLE_STAGE, "prospect", "Prospect"),
        (EnumKind.LIFECYCLE_STAGE, "churned", "Churned"),
    ],
)
def test_known_values_map_to_the_vendor_value(kind: EnumKind, raw: str, expected: str) -> None:
    assert map_enum(kind, raw) == EnumResult(expected, known=True, raw=raw)


@pytest.mark.parametrize("raw", [" On Hold ", "ON-HOLD", "on_hold", "OnHold", "onhold", "Hold\t"])
def test_matching_ignores_case_spaces_and_separators(raw: str) -> None:
    result = map_enum(EnumKind.TICKET_STATUS, raw)
    assert (result.value, result.known) == ("OnHold", True)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (EnumKind.TICKET_STATUS, "escalated"),
        (EnumKind.TICKET_PRIORITY, "critical"),
        (EnumKind.TICKET_CHANNEL, "carrier pigeon"),
        (EnumKind.LIFECYCLE_STAGE, "partner"),
        (EnumKind.LIFECYCLE_STAGE, None),
        (EnumKind.TICKET_STATUS, ""),
    ],
)
def test_unknown_values_fall_back_and_say_so(kind: EnumKind, raw: str | None) -> None:
    assert map_enum(kind, raw) == EnumResult(FALLBACK, known=False, raw=raw)


def test_kinds_are_named_as_in_config() -> None:
    assert map_enum(EnumKind("ticket_channel"), "facebook").value == "Social"
    assert set(ENUM_MAPS) == set(EnumKind)


@given(st.sampled_from(EnumKind), st.none() | st.text(max_size=12) | st.sampled_from(["OPEN", " Mail ", "x"]))
def test_result_is_always_whitelisted(kind: EnumKind, raw: str | None) -> None:
    result = map_enum(kind, raw)
    assert result.value in WHITELISTS[kind]
    assert result.raw == raw
    assert result.known or result.value == FALLBACK


@given(st.sampled_from(EnumKind), st.text(max_size=12))
def test_mapping_a_vendor_value_again_changes_nothing(kind: EnumKind, raw: str) -> None:
    result = map_enum(kind, raw)
    if result.known:
        assert map_enum(kind, result.value) == EnumResult(result.value, known=True, raw=result.value)
