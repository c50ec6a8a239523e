"""The audit chain: what verify finds when a row is changed, removed, added or forged."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cdc_sync.rules.audit_chain import KEYED, PLAIN, link_hash, plain_json, verify

KEY = b"chain-key"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def chain(count: int, key: bytes | None = KEY) -> list[dict[str, Any]]:
    rows, prev = [], None
    for n in range(count):
        entry: dict[str, Any] = {"actor": "ops", "action": "dlq.replay", "object": f"contact:{n}"}
        entry |= {"before": None, "after": {"status": "replayed", "n": n}, "details": {"ids": [n, n + 1]}}
        at = T0 + timedelta(seconds=n)
        digest = link_hash(key, prev, at, entry)
        rows.append({"id": n + 1, "at": at, **entry, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def test_an_untouched_chain_verifies_and_says_its_span() -> None:
    verdict = verify(chain(5), KEY)
    assert (verdict.rows, verdict.first_id, verdict.last_id, verdict.breaks) == (5, 1, 5, ())


def test_a_changed_value_breaks_the_chain_at_that_row() -> None:
    rows = chain(5)
    rows[2]["after"] = {"status": "discarded", "n": 2}
    assert [b.row_id for b in verify(rows, KEY).breaks] == [3]


def test_a_removed_row_breaks_the_chain_at_the_next_one() -> None:
    rows = chain(5)
    del rows[2]
    breaks = verify(rows, KEY).breaks
    assert [b.row_id for b in breaks] == [4] and "missing" in breaks[0].reason


def test_a_row_inserted_without_a_hash_is_named() -> None:
    rows = chain(3)
    forged = {**rows[1], "id": 10, "actor": "mallory", "prev_hash": None, "hash": None}
    verdict = verify([*rows, forged], KEY)
    assert [(b.row_id, b.reason) for b in verdict.breaks] == [(10, "not chained: written outside cdc-sync")]


def test_a_row_forged_without_the_key_does_not_verify() -> None:
    rows = chain(3)
    entry = {"actor": "mallory", "action": "dlq.discard", "object": "contact:1"}
    forged_hash = link_hash(b"guessed", rows[-1]["hash"], T0, entry)  # the right shape, the wrong key
    forged = {"id": 4, "at": T0, **entry, "before": None, "after": None, "details": None}
    verdict = verify([*rows, {**forged, "prev_hash": rows[-1]["hash"], "hash": forged_hash}], KEY)
    assert [b.row_id for b in verdict.breaks] == [4]


def test_pruned_rows_leave_the_oldest_remaining_as_the_anchor() -> None:
    assert verify(chain(6)[3:], KEY).breaks == ()


def test_rows_from_before_the_chain_are_counted_not_broken() -> None:
    legacy = [
        {"id": 1, "at": T0, "actor": "ops", "action": "x", "object": None, "prev_hash": None, "hash": None}
    ]
    rows = [{**row, "id": row["id"] + 1} for row in chain(2)]
    verdict = verify([*legacy, *rows], KEY)
    assert (verdict.before_chain, verdict.rows, verdict.breaks) == (1, 2, ())


def test_keyed_rows_checked_without_the_key_say_the_key_is_missing() -> None:
    breaks = verify(chain(2), None).breaks
    assert breaks and "CDC_SYNC_AUDIT_KEY" in breaks[0].reason


def test_the_hash_says_whether_it_is_keyed() -> None:
    assert chain(1)[0]["hash"].startswith(KEYED)
    assert chain(1, key=None)[0]["hash"].startswith(PLAIN)


def test_the_hash_covers_the_instant_in_whatever_zone_the_database_returns_it() -> None:
    entry = {"actor": "ops", "action": "a", "object": None}
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    assert link_hash(KEY, None, plus_two, entry) == link_hash(KEY, None, T0, entry)
    assert link_hash(KEY, None, T0 + timedelta(microseconds=1), entry) != link_hash(KEY, None, T0, entry)


def test_values_are_hashed_as_jsonb_gives_them_back() -> None:
    assert plain_json({"at": T0, "n": (1, 2)}) == {"at": "2026-12-01 09:00:00+00:00", "n": [1, 2]}
