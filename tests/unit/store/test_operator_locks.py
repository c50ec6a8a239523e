"""Destination lock ids: stable, distinct, and in PostgreSQL's signed 32-bit range."""

from cdc_sync.store.operator_locks import lock_key

NAMES = ["marketing", "helpdesk", "erp", "callcenter", "webhook", "a" * 200, "ünïcode"]


def test_lock_ids_are_stable_distinct_signed_32_bit_ints() -> None:
    keys = [lock_key(name) for name in NAMES]
    assert all(-(2**31) <= key < 2**31 for key in keys)
    assert len(set(keys)) == len(keys)
    assert keys == [lock_key(name) for name in NAMES]  # the same across processes: crc32, not hash()
    assert any(key < 0 for key in map(lock_key, (f"d{i}" for i in range(64))))  # the high half maps too
