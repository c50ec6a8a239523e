"""Offsets show/rewind planning: targets, validation, the impact preview, destinations, audit."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cdc_sync.admin.consumer_groups import (
    GroupActive,
    GroupInfo,
    Member,
    offsets_report,
    partitions_to_show,
    require_idle,
)
from cdc_sync.admin.kafka_admin import apply_rewind
from cdc_sync.admin.offsets import (
    InvalidRewind,
    PartitionOffsets,
    RewindPlan,
    RewindRefused,
    RewindRequest,
    Shift,
    Target,
    ToEarliest,
    ToOffset,
    ToTime,
    UnknownTopic,
    check_topic,
    destinations_for,
    plan_rewind,
    routed_topics,
    target_of,
)
from cdc_sync.config import load_config
from cdc_sync.errors import ConfigError
from cdc_sync.outbound.pipeline import build_routes

ROOT = Path(__file__).parents[3]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPIC = "crm.public.contacts"
IDLE = GroupInfo("g", "empty")
MEMBER = Member("rdkafka-1234", "rdkafka", "/10.0.0.7", (f"{TOPIC}/0",))


def target(**options: object) -> Target:
    given: dict[str, object] = {"to_offset": None, "to_time": None, "to_earliest": False, "shift": None}
    return target_of(**{**given, **options}, now=NOW)  # type: ignore[arg-type]


def part(
    partition: int, committed: int | None, low: int = 10, high: int = 100, at_time: int | None = None
) -> PartitionOffsets:
    return PartitionOffsets(partition, committed, low, high, at_time)


def plan(t: Target, *partitions: PartitionOffsets, partition: int | None = None) -> RewindPlan:
    return plan_rewind(RewindRequest("g", TOPIC, t, partition), IDLE, partitions, ("marketing",))


# --- targets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "got"),
    [
        ({}, ""),
        ({"to_offset": 5, "to_earliest": True}, "(got --to-offset, --to-earliest)"),
        ({"shift": -1, "to_time": NOW}, "(got --to-time, --shift)"),
    ],
)
def test_exactly_one_target(options: dict[str, object], got: str) -> None:
    with pytest.raises(InvalidRewind, match="give exactly one of") as caught:
        target(**options)
    assert str(caught.value).endswith(got)


def test_targets_from_options() -> None:
    assert target(to_offset=0) == ToOffset(0)
    assert target(to_earliest=True) == ToEarliest()
    assert target(shift=-50) == Shift(-50)


@pytest.mark.parametrize("shift", [0, 5])
def test_shift_must_be_negative(shift: int) -> None:
    with pytest.raises(InvalidRewind, match=f"--shift must be negative.*not {shift}"):
        target(shift=shift)


def test_negative_to_offset_is_refused() -> None:
    with pytest.raises(InvalidRewind, match="--to-offset must be 0 or more"):
        target(to_offset=-1)


def test_to_time_is_utc_and_not_in_the_future() -> None:
    parsed = target(to_time=datetime(2026, 1, 31, 15, tzinfo=timezone(timedelta(hours=1))))
    assert parsed == ToTime(datetime(2026, 1, 31, 14, tzinfo=UTC)) and parsed.at.tzinfo == UTC
    with pytest.raises(InvalidRewind, match="is in the future"):
        target(to_time=NOW + timedelta(minutes=1))
    assert target(to_time=NOW) == ToTime(NOW)


def test_target_errors_are_config_errors_exit_2() -> None:
    assert issubclass(InvalidRewind, ConfigError)


# --- the plan ------------------------------------------------------------------------------


def test_rewind_to_offset_previews_events_reread_per_partition() -> None:
    result = plan(ToOffset(20), part(0, 50), part(1, 20), part(2, 100))
    assert [(m.partition, m.committed, m.to, m.reread) for m in result.moves] == [
        (0, 50, 20, 30),
        (1, 20, 20, 0),
        (2, 100, 20, 80),
    ]
    assert result.events_reread == 110
    assert result.events_skipped == 0
    assert result.offsets == {0: 20, 1: 20, 2: 20}
    assert result.warnings == []


def test_forward_to_offset_is_allowed_but_counted_and_warned() -> None:
    result = plan(ToOffset(90), part(0, 50))
    (move,) = result.moves
    assert (move.reread, move.skipped) == (0, 40)
    assert result.events_skipped == 40
    assert result.warnings == ["partition 0 moves forward: 40 events will never be delivered"]


def test_to_offset_outside_the_log_names_the_valid_range() -> None:
    with pytest.raises(
        InvalidRewind, match=r"--to-offset 5 is outside crm\.public\.contacts partition 1: .*10\.\.100"
    ):
        plan(ToOffset(5), part(0, 50, low=0), part(1, 50, low=10))
    with pytest.raises(InvalidRewind, match=r"valid offsets are 10\.\.100"):
        plan(ToOffset(101), part(0, 50))
    assert plan(ToOffset(100), part(0, 50)).offsets == {0: 100}  # the end itself is valid


def test_only_the_chosen_partition_moves() -> None:
    result = plan(ToEarliest(), part(0, 50), part(1, 60), partition=1)
    assert result.offsets == {1: 10}
    assert result.events_reread == 50


def test_unknown_partition_lists_the_real_ones() -> None:
    with pytest.raises(InvalidRewind, match="has no partition 7; its partitions: 0, 1"):
        plan(ToEarliest(), part(0, 50), part(1, 60), partition=7)


def test_shift_moves_back_and_stops_at_the_log_start() -> None:
    result = plan(Shift(-30), part(0, 100), part(1, 25))
    assert result.offsets == {0: 70, 1: 10}
    assert result.events_reread == 30 + 15


def test_shift_leaves_partitions_with_nothing_committed() -> None:
    result = plan(Shift(-5), part(0, 50), part(1, None))
    assert result.offsets == {0: 45}
    assert result.untouched == (1,)
    assert "partition 1: nothing committed to shift from; left as it is" in result.warnings
    with pytest.raises(InvalidRewind, match="no committed offset to shift from"):
        plan(Shift(-5), part(0, None), part(1, None))


def test_to_time_uses_the_offset_for_the_time_or_the_end() -> None:
    result = plan(ToTime(NOW), part(0, 80, at_time=40), part(1, 80, at_time=None))
    assert result.offsets == {0: 40, 1: 100}
    assert [m.reread for m in result.moves] == [40, 0]
    assert result.events_skipped == 20  # partition 1: nothing at/after the time, moves to the end


def test_nothing_committed_counts_from_the_log_start_where_run_would_begin() -> None:
    (move,) = plan(ToOffset(30), part(0, None)).moves  # the log starts at 10
    assert (move.committed, move.to, move.reread, move.skipped) == (None, 30, 0, 20)


def test_events_already_deleted_are_not_counted() -> None:
    # committed 5 lies before the log start 10: retention deleted 5..9, none of them is skipped
    (move,) = plan(ToEarliest(), part(0, 5)).moves
    assert (move.to, move.reread, move.skipped) == (10, 0, 0)


def test_plan_warns_about_active_members_and_missing_destinations() -> None:
    busy = GroupInfo("g", "stable", (MEMBER,))
    result = plan_rewind(RewindRequest("g", TOPIC, ToEarliest()), busy, [part(0, 50)], ())
    assert "no configured destination reads crm.public.contacts" in result.warnings
    assert any("1 active member(s); stop `cdc-sync run`" in w for w in result.warnings)


def test_plan_as_json() -> None:
    document = plan(ToOffset(20), part(0, 50)).as_dict()
    assert json.loads(json.dumps(document)) == {
        "group": "g",
        "topic": TOPIC,
        "target": "--to-offset 20",
        "partitions": [
            {"partition": 0, "committed": 50, "to": 20, "start": 10, "end": 100, "reread": 30, "skipped": 0}
        ],
        "untouched_partitions": [],
        "events_reread": 30,
        "events_skipped": 0,
        "destinations": ["marketing"],
        "active_members": 0,
        "warnings": [],
    }


def test_audit_entry_records_from_and_to_of_the_applied_partitions() -> None:
    result = plan(ToOffset(20), part(0, 50), part(1, None), part(2, 30))
    entry = result.audit_entry({0: 20, 1: 20})
    assert entry.action == "offsets.rewind"
    assert entry.object == "group:g/topic:crm.public.contacts"
    assert entry.before == {"0": 50, "1": None}
    assert entry.after == {"0": 20, "1": 20}
    assert entry.details == {
        "target": "--to-offset 20",
        "events_reread": 30,
        "events_skipped": 10,  # partition 1 had nothing committed: run would start at 10
        "destinations": ["marketing"],
    }


# --- group, topics, destinations -----------------------------------------------------------


def test_active_group_is_refused_naming_its_members() -> None:
    with pytest.raises(GroupActive) as caught:
        require_idle(GroupInfo("cdc-sync-outbound", "stable", (MEMBER,)))
    assert str(caught.value) == (
        "group cdc-sync-outbound has 1 active member(s) (consumer rdkafka-1234 on 10.0.0.7); "
        "stop `cdc-sync run` first, then rewind"
    )
    with pytest.raises(GroupActive, match=r"0 active member\(s\) \(preparing_rebalance\)"):
        require_idle(GroupInfo("g", "preparing_rebalance"))


@pytest.mark.parametrize("state", ["empty", "dead", "unknown"])
def test_idle_group_may_rewind(state: str) -> None:
    require_idle(GroupInfo("g", state))  # type: ignore[arg-type]


def test_unknown_topic_suggests_similar_names() -> None:
    known = ["__consumer_offsets", "crm.public.contacts", "crm.public.tickets", "connect-offsets"]
    check_topic(TOPIC, known)
    with pytest.raises(UnknownTopic, match=r"did you mean crm\.public\.contacts"):
        check_topic("public.contacts", known)
    with pytest.raises(UnknownTopic) as caught:
        check_topic("zzz", known)
    assert str(caught.value) == (
        "no topic 'zzz' in Kafka; topics: connect-offsets, crm.public.contacts, crm.public.tickets"
    )


def test_topic_maps_to_the_destinations_of_its_table() -> None:
    routes = build_routes(load_config(ROOT / "config" / "cdc-sync.toml"))
    assert destinations_for(TOPIC, "crm", routes) == ("marketing", "helpdesk")
    assert destinations_for("crm.public.subscriptions", "crm", routes) == ("marketing",)
    assert destinations_for("crm.public.tickets", "crm", routes) == ("helpdesk",)  # corrections
    assert destinations_for("crm.public.activities", "crm", routes) == ()
    assert destinations_for("other.public.contacts", "crm", routes) == ()
    assert TOPIC in routed_topics("crm", routes)


# --- show ----------------------------------------------------------------------------------


def test_show_covers_committed_and_routed_topics_with_lag() -> None:
    committed = {(TOPIC, 0): 90, ("old.topic", 0): 3}
    topics = {TOPIC: (0, 1), "crm.public.tags": (0,), "old.topic": (0,)}
    keys, missing = partitions_to_show(committed, topics, ["crm.public.tags", "crm.public.gone"])
    assert keys == [(TOPIC, 0), (TOPIC, 1), ("crm.public.tags", 0), ("old.topic", 0)]
    assert missing == ["crm.public.gone"]
    marks = {("crm.public.tags", 0): (0, 7), (TOPIC, 0): (0, 100), (TOPIC, 1): (5, 50)}
    report = offsets_report(GroupInfo("g", "empty"), keys, committed, marks, missing)
    rows = {(r.topic, r.partition): (r.committed, r.end, r.lag) for r in report.rows}
    assert rows == {
        ("crm.public.tags", 0): (None, 7, 7),  # nothing committed: the run starts at the log start
        (TOPIC, 0): (90, 100, 10),
        (TOPIC, 1): (None, 50, 45),
        ("old.topic", 0): (3, None, None),  # watermarks missing: not read, no lag claimed
    }
    assert report.total_lag == 62
    assert report.as_dict()["partitions"][0] == {
        "topic": TOPIC,
        "partition": 0,
        "committed": 90,
        "start": 0,
        "end": 100,
        "lag": 10,
    }


class MovedMeanwhile:
    """Kafka as another operator left it while the preview waited at the prompt."""

    altered = False

    def group(self, group: str) -> GroupInfo:
        return GroupInfo(group, "empty")

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        return {(TOPIC, 0): 77}

    def alter(self, group: str, topic: str, offsets: object) -> dict[int, str]:
        self.altered = True
        return {}


def test_a_rewind_whose_preview_went_stale_is_refused_and_moves_nothing() -> None:
    kafka = MovedMeanwhile()
    with pytest.raises(RewindRefused, match=r"partition\(s\) 0 changed since the preview"):
        apply_rewind(kafka, None, plan(ToOffset(20), part(0, 50)), "op")  # type: ignore[arg-type]
    assert not kafka.altered
