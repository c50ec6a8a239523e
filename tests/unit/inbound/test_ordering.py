"""Per-entity order in a writer batch, and when the writer goes on without waiting."""

from cdc_sync.inbound.ordering import EntityGate
from cdc_sync.inbound.writer import Pass


def admitted(gate: EntityGate, batch: list[tuple[int, str]]) -> list[int]:
    return [inbox_id for inbox_id, entity in batch if gate.admits(inbox_id, entity)]


BATCH = [(1, "a"), (2, "b"), (4, "a"), (6, "c"), (7, "b")]


def test_an_open_gate_admits_the_whole_batch_in_order() -> None:
    assert admitted(EntityGate.over([]), BATCH) == [1, 2, 4, 6, 7]


def test_an_older_event_held_elsewhere_holds_back_only_its_entitys_later_events() -> None:
    gate = EntityGate.over([(3, "a")])  # another writer has event 3 of entity a
    assert admitted(gate, BATCH) == [1, 2, 6, 7]


def test_the_oldest_held_event_of_an_entity_counts() -> None:
    assert admitted(EntityGate.over([(5, "b"), (3, "b")]), BATCH) == [1, 2, 4, 6]  # 2 is older than 3


def test_an_event_left_pending_holds_back_the_rest_of_its_entity() -> None:
    gate = EntityGate.over([])
    applied = []
    for inbox_id, entity in BATCH:
        if not gate.admits(inbox_id, entity):
            continue
        if inbox_id == 2:  # fails: stays pending
            gate.hold(inbox_id, entity)
            continue
        applied.append(inbox_id)
    assert applied == [1, 4, 6]


def test_the_writer_goes_on_at_once_only_after_a_full_batch_that_made_progress() -> None:
    assert Pass(claimed=100, applied=100, batch=100).more_waiting
    assert Pass(claimed=100, applied=3, batch=100).more_waiting
    assert not Pass(claimed=100, applied=0, batch=100).more_waiting  # all held back: wait, do not spin
    assert not Pass(claimed=40, applied=40, batch=100).more_waiting
