"""The fuzz harness's invariant checks (bench/fuzz/tally.py): what counts as a broken invariant,
and that one bug seen many times is one finding."""

from bench.fuzz.hostile import json_bytes, nested, paths, poisoned
from bench.fuzz.tally import Observation, Tally, table, violations


def test_refusals_and_acceptances_that_keep_the_invariants_break_none() -> None:
    assert violations(Observation(401, authentic=False)) == []
    assert violations(Observation(422)) == []
    assert violations(Observation(200, rows_added=1, accepted=True)) == []
    assert violations(Observation(200)) == []  # a duplicate: no new row


def test_each_broken_invariant_is_named() -> None:
    assert violations(Observation(503)) == ["server_error"]
    assert violations(Observation(None, crashed=True)) == ["crash"]
    assert violations(Observation(503, crashed=True)) == ["crash", "server_error"]
    assert violations(Observation(422, rows_added=1)) == ["write_from_invalid"]
    assert violations(Observation(200, rows_added=1, authentic=False, accepted=True)) == [
        "unauthenticated_accepted"
    ]
    assert violations(Observation(200, accepted=True)) == ["ack_without_row"]


def test_one_cause_seen_many_times_is_one_finding_with_its_first_example() -> None:
    tally = Tally("helpdesk")
    for n in range(3):
        cause = f"inbox batch of {n + 1} events not stored: NUL (0x00) bytes"
        tally.add(Observation(503, cause=cause, error=cause), {"n": n})
    tally.add(Observation(422), {"n": 9})
    assert tally.inputs == 4
    assert not tally.clean
    [finding] = tally.findings.values()
    assert (finding.count, finding.example, finding.violation) == (3, {"n": 0}, "server_error")
    summary = tally.summary()
    assert (summary["5xx"], summary["4xx"], summary["crashes"], summary["writes_from_invalid"]) == (
        3,
        1,
        0,
        0,
    )


def test_the_table_totals_every_target() -> None:
    web, decoder = Tally("erp", seconds=2.0), Tally("envelope", seconds=2.0, writes_checked=False)
    web.add(Observation(200, rows_added=1, accepted=True), {})
    decoder.add(Observation(None, crashed=True, cause="decode raised ValueError"), {})
    lines = table([web.summary(), decoder.summary()]).splitlines()
    assert lines[0].split() == [
        "target",
        "inputs",
        "2xx",
        "4xx",
        "5xx",
        "crashes",
        "writes-from-invalid",
        "inputs/s",
    ]
    assert lines[-1].split() == ["total", "2", "1", "0", "0", "1", "0", "0.5"]
    assert lines[3].split()[6] == "-"  # the decoder writes nowhere


def test_deep_nesting_is_written_without_recursing() -> None:
    body = json_bytes({"a": nested(3000, "list")}, ascii_only=True)
    assert body == b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}"


def test_poison_goes_inside_a_valid_string_and_every_path_is_reachable() -> None:
    document = {"detail": {"id": "T-1", "tags": ["a"]}}
    assert paths(document) == [(), ("detail",), ("detail", "id"), ("detail", "tags"), ("detail", "tags", 0)]
    assert poisoned(document, ("detail", "id"), "\x00", 1) == {"detail": {"id": "T\x00-1", "tags": ["a"]}}
