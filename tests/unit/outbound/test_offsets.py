"""Offsets move only past events whose effects are all durable."""

from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.outbound.offsets import PartitionProgress


def test_out_of_order_finishes_do_not_skip_undone_work() -> None:
    progress = PartitionProgress()
    for offset in (10, 11, 12):
        progress.begin(offset)
    assert progress.finish(12) is None  # 10 and 11 still undone
    assert progress.finish(10) == 11
    assert progress.finish(11) == 13
    assert progress.pending == 0


def test_unknown_offsets_are_ignored() -> None:
    progress = PartitionProgress()
    progress.begin(5)
    assert progress.finish(99) is None
    assert progress.committable is None


@given(st.permutations(list(range(30))))
def test_committable_is_always_the_first_unfinished_offset(order: list[int]) -> None:
    progress = PartitionProgress()
    for offset in range(30):
        progress.begin(offset)
    finished: set[int] = set()
    for offset in order:
        progress.finish(offset)
        finished.add(offset)
        first_unfinished = next((o for o in range(30) if o not in finished), 30)
        expected = first_unfinished if first_unfinished > 0 else None
        assert progress.committable == expected
