"""How `make bench-peer` reports: Debezium Server's settings, path CPU totals and the table."""

from pathlib import Path
from typing import Any

PROPERTIES = Path(__file__).parents[1] / "ops" / "peer" / "application.properties"
SIDES = ("debezium", "cdc-sync")


def _properties(path: Path) -> dict[str, str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# Recorded with the figures: the settings that shape Debezium Server's side of the comparison.
DEBEZIUM_SERVER = {
    "version": "3.6.1.Final",
    "properties_file": "ops/peer/application.properties",
    **{
        key: value
        for key, value in _properties(PROPERTIES).items()
        if key.startswith(("debezium.sink.", "debezium.format.")) or "poll" in key or "flush" in key
    },
}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 4) if numerator and denominator else None


def path_totals(throughput: dict[str, Any], captured: dict[str, Any]) -> dict[str, float]:
    """CPU per 1000 changes of everything on each side's path (cdc-sync's includes the capture)."""
    own = {side: sum(throughput[side]["cpu_s_per_1000"].values()) for side in SIDES}
    own["cdc-sync"] += sum(captured["cpu_s_per_1000"].values())
    return {side: round(total, 4) for side, total in own.items()}


def _got(side: dict[str, Any]) -> str:
    return f"{side['received']}/{side['expected']}" + ("" if side["complete"] else " (timed out)")


def _latency(side: dict[str, Any]) -> str:
    cuts = side["commit_to_receive_ms"]
    return " / ".join(str(cuts.get(cut)) for cut in ("p50", "p95", "p99"))


def _rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    tp, lat = results["throughput"], results["latency"]
    path = tp["path_cpu_s_per_1000"]
    lat_cpu = {side: round(sum(lat[side]["cpu_s_per_1000"].values()), 4) for side in SIDES}
    return [
        ("", "Debezium Server", "cdc-sync", "cdc-sync / DS"),
        ("throughput, changes/s", *(str(tp[s]["changes_per_s"]) for s in SIDES), str(tp["ratio"])),
        ("  received / expected", *(_got(tp[s]) for s in SIDES), ""),
        ("  duplicates", *(str(tp[s]["duplicates"]) for s in SIDES), ""),
        ("  changes per request", *(str(tp[s]["changes_per_request"]) for s in SIDES), ""),
        ("  CPU s/1000, whole path", str(path["debezium"]), str(path["cdc-sync"]), ""),
        ("  receiver CPU s/1000", *(str(tp[s]["receiver_cpu_s_per_1000"]) for s in SIDES), ""),
        ("latency p50/p95/p99 ms", *(_latency(lat[s]) for s in SIDES), f"p99 {lat['p99_ratio']}"),
        ("  received / expected", *(_got(lat[s]) for s in SIDES), ""),
        ("  duplicates", *(str(lat[s]["duplicates"]) for s in SIDES), ""),
        ("  CPU s/1000, whole path", str(lat_cpu["debezium"]), str(lat_cpu["cdc-sync"]), ""),
    ]


def _breakdown(results: dict[str, Any]) -> list[str]:
    tp, lat = results["throughput"], results["latency"]
    parts = [("throughput", tp[s]["cpu_s_per_1000"], s) for s in SIDES]
    parts.append(("throughput", tp["capture_by_connect"]["cpu_s_per_1000"], "cdc-sync capture"))
    parts += [("latency", lat[s]["cpu_s_per_1000"], s) for s in SIDES]
    return [
        f"  {phase:<10} {side:<16} " + ", ".join(f"{name} {value}" for name, value in cpu.items())
        for phase, cpu, side in parts
    ]


def problems(results: dict[str, Any]) -> list[str]:
    """Sides that missed or duplicated changes, or were not live when the latency writes began."""
    found = [
        f"{phase}: {side} received {figures['received']} of {figures['expected']}"
        + (f", {figures['duplicates']} duplicates" if figures["duplicates"] else "")
        for phase in ("throughput", "latency")
        for side in SIDES
        if not (figures := results[phase][side])["complete"] or figures["duplicates"]
    ]
    return found + [
        f"latency: {side} not live before the writes" for side in results["latency"]["not_live_before_writes"]
    ]


def busy(results: dict[str, Any]) -> list[str]:
    """Other work on the machine skews every figure: say so when the load exceeded the CPUs."""
    machine = results["machine"]
    load = max(machine["load_average_1m_before"], machine["load_average_1m_after"])
    if load <= machine["cpus"]:
        return []
    return [f"machine busy: load average {load:.1f} on {machine['cpus']} CPUs, figures skewed"]


def table(results: dict[str, Any]) -> str:
    rows = _rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    idle = results["latency"]["idle_cpu_percent_of_a_core"]
    idle_line = "idle, % of a core: " + ", ".join(f"{name} {value}" for name, value in idle.items())
    check = problems(results) or ["every change received by both sides, no duplicates"]
    notes = [idle_line, *check, *busy(results)]
    return "\n".join([*lines, "CPU s per 1000 changes by process:", *_breakdown(results), *notes])
