"""How figures are reported: latency percentiles in milliseconds and the closing table."""

import statistics
from collections.abc import Mapping
from typing import Any


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100)
    return {
        "p50": round(cuts[49], 1),
        "p95": round(cuts[94], 1),
        "p99": round(cuts[98], 1),
        "max": round(max(values), 1),
    }


def _get(results: Any, *path: str) -> Any:
    value: Any = results
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float) and abs(value) < 1:
        return f"{value:.3f}{unit}"
    if isinstance(value, float | int):
        return f"{value:,.1f}{unit}" if isinstance(value, float) and value < 100 else f"{value:,.0f}{unit}"
    return str(value)


def _pcts(values: Any) -> str:
    if not isinstance(values, Mapping) or not values:
        return "-"
    return "/".join(_num(values.get(p)) for p in ("p50", "p95", "p99")) + " ms"


def _drained(name: str, phase: Any) -> list[tuple[str, str, str]]:
    cpu = _get(phase, "cpu", "ms_per_1000_changes") or {}
    others = ", ".join(f"{k} {_num(v)}" for k, v in cpu.items() if k != "cdc_sync")
    return [
        (f"{name} changes/s", _num(_get(phase, "changes_per_s")), f"{_num(_get(phase, 'changes'))} changes"),
        (f"{name} exactly once", _num(_get(phase, "exactly_once")), _get(phase, "incomplete") or ""),
        (f"{name} cdc-sync CPU/change", _num(_get(phase, "cpu_us_per_change"), " µs"), "target ≤ 200 µs"),
        (f"{name} other CPU ms/1k", "", others),
    ]


def _latency(name: str, phase: Any) -> list[tuple[str, str, str]]:
    rate = f"{_num(_get(phase, 'achieved_changes_per_s'))}/s of {_num(_get(phase, 'target_changes_per_s'))}/s"
    stall = _get(phase, "event_loop_longest_stall_s")
    return [
        (f"latency {name} end-to-end", _pcts(_get(phase, "end_to_end_ms")), rate),
        (
            f"latency {name} added",
            _pcts(_get(phase, "added_by_cdc_sync_ms")),
            f"loop stall {_num(stall, ' s')}",
        ),
    ]


def _figures(phase: str, figures: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """A phase's plain figures and percentiles, a row each."""
    return [
        (f"{phase} {key}", _pcts(v) if isinstance(v, Mapping) else _num(v), "")
        for key, v in figures.items()
        if not isinstance(v, Mapping) or "p50" in v
    ]


def table(results: Mapping[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = [
        (
            "ceiling consume+decode",
            _num(_get(results, "ceiling.consume_decode", "changes_per_s")),
            "changes/s",
        ),
        ("ceiling decode+plan", _num(_get(results, "ceiling.decode_plan", "changes_per_s")), "changes/s"),
        *_drained("pipeline", results.get("pipeline")),
        ("ratio to consume+decode", _num(results.get("ratio_consume_decode")), ""),
        ("ratio to decode+plan", _num(results.get("ratio_decode_plan")), ""),
    ]
    for name, phase in (_get(results, "latency") or {}).items():
        rows += _latency(name, phase)
    backlog = results.get("backlog")
    rows += [
        *_drained("backlog", backlog),
        ("backlog peak RSS", _num(_get(backlog, "peak_rss_mb"), " MB"), "≤ 300 MB"),
    ]
    for phase in ("inbound", "callcenter", "backfill"):
        rows += _figures(phase, results.get(phase) or {})
    congestion = _get(results, "callcenter", "congestion") or {}
    rows += _figures("callcenter stalled writer", congestion)
    width = max(len(name) for name, *_ in rows)
    return "\n".join(f"{name:<{width}}  {value:>22}  {note}".rstrip() for name, value, note in rows)
