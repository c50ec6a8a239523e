"""The closing table of `make chaos`: one row per scenario, then its notes."""

from collections.abc import Sequence

from bench.chaos.verdict import Outcome

HEADER = ("scenario", "changes", "owed", "delivered", "lost", "dup", "dead letters", "recover s", "pass")


def _letters(outcome: Outcome) -> str:
    total = sum(n for reason, n in outcome.dead_letters.items() if not reason.startswith("("))
    return str(total) if total else "0"


def _recover(outcome: Outcome) -> str:
    if outcome.expect_human:
        return "alert " + (f"{outcome.alert_s:.0f}s" if outcome.alert_s is not None else "none")
    if outcome.recover_s is None:
        return "no"
    return f"{outcome.recover_s:.1f}" + (" (human)" if outcome.needs_human else "")


def row(outcome: Outcome) -> tuple[str, ...]:
    c = outcome.counts
    cells = (outcome.changes, c.owed, c.delivered, c.lost, c.duplicated)
    verdict = "PASS" if outcome.passed else "FAIL"
    return (outcome.scenario, *(f"{n:,}" for n in cells), _letters(outcome), _recover(outcome), verdict)


def _details(outcome: Outcome) -> list[str]:
    lines = [
        f"  {outcome.scenario}: dead letters {reason!r}: {n}" for reason, n in outcome.dead_letters.items()
    ]
    if outcome.needs_human:
        lines.append(f"  {outcome.scenario}: operator had to: {outcome.needs_human}")
    lines += [f"  {outcome.scenario}: {note}" for note in outcome.notes if note]
    if outcome.error:
        lines.append(f"  {outcome.scenario}: ERROR {outcome.error}")
    return lines


def table(outcomes: Sequence[Outcome], scale: float) -> str:
    rows = [HEADER, *(row(o) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"CHAOS_SCALE={scale}"]
    lines += [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(lines + [line for o in outcomes for line in _details(o)])
