"""The delivery report as one self-contained HTML page: inline CSS, plots as inline SVG.

Plots are drawn on bare `Figure`s (no pyplot state) and saved as SVG with text as paths,
so the page needs no fonts, scripts or network. All times are UTC.
"""

import io
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape

import matplotlib
import matplotlib.dates as mdates
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.typing import LineStyleType, RcKeyType

from cdc_sync.report.latency import (
    ERROR_CLASSES,
    MAX_BUCKETS,
    OUTCOMES,
    DestinationSeries,
    DestinationSummary,
    PauseInterval,
    Quantiles,
    Report,
)

PLOT_STYLE: dict[RcKeyType, object] = {
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e4e4",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "timezone": "UTC",
    "date.epoch": "1970-01-01T00:00:00",  # what `_days` counts from
}
DATE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
QUANTILE_LINES: dict[str, tuple[str, LineStyleType]] = {
    "p50": ("#1f77b4", "-"),
    "p95": ("#ff7f0e", "--"),
    "p99": ("#d62728", ":"),
}
ERROR_COLOURS = {"4xx": "#ff7f0e", "5xx": "#d62728", "timeout": "#9467bd", "other": "#7f7f7f"}
OUTCOME_COLOURS = {"retry": "#1f77b4", "retry_after": "#17becf", "dead_letter": "#8c564b"}
OUTCOME_LABELS = {
    "retry": "retry (backoff)",
    "retry_after": "retry after (rate limited)",
    "dead_letter": "dead letter",
}
PAUSE_COLOUR = "#f5c26b"
_SVG_PREAMBLE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0;
       background: #fafafa; }
main { max-width: 1220px; margin: 0 auto; padding: 20px 28px 40px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 0; }
.note { color: #666; font-size: 12.5px; margin: 2px 0 6px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin-top: 8px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e6e6e6; text-align: right; white-space: nowrap; }
th { background: #f1f3f5; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
.bad { color: #b42318; font-weight: 600; }
.empty { margin: 40px 0; padding: 28px; border: 2px dashed #ccc; font-size: 18px; text-align: center; }
figure { margin: 6px 0 0; }
figure svg { width: 100%; height: auto; }
"""


def render_html(report: Report) -> str:
    body = report_body(report)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>cdc-sync delivery report, {_time(report.window.start)} to {_time(report.window.end)}"
        "</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{_header(report)}\n{body}\n</main>\n</body>\n</html>\n"
    )


def _time(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def duration_text(ms: float) -> str:
    """A latency or a span in the unit a reader expects for its size."""
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    if ms < 7_200_000:
        return f"{ms / 60_000:.0f} min"
    return f"{ms / 3_600_000:.1f} h"


def _span_text(span: timedelta) -> str:
    return duration_text(span.total_seconds() * 1000)


def _bucket_text(width: timedelta) -> str:
    seconds = int(width.total_seconds())
    unit, size = next(
        (u, n) for u, n in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)) if seconds % n == 0
    )
    return f"{seconds // size} {unit}"


def _header(report: Report) -> str:
    window = report.window
    bucket = _bucket_text(window.bucket)
    if window.bucket != report.requested_bucket:
        bucket += f" (widened from {_bucket_text(report.requested_bucket)} to keep ≤ {MAX_BUCKETS} buckets)"
    scope = f"destination {escape(window.destination)}" if window.destination else "all destinations"
    return (
        "<header>\n<h1>cdc-sync delivery report</h1>\n"
        f'<p class="meta">{_time(window.start)} → {_time(window.end)} · {scope} · buckets of {bucket}</p>\n'
        f'<p class="meta">generated {_time(report.generated_at)} from the delivery ledger</p>\n</header>'
    )


def report_body(report: Report) -> str:
    """The report without its page: summary, plots (inline SVG) and pauses (the console shows it)."""
    return _empty_body(report) if report.empty else _body(report)


def _empty_body(report: Report) -> str:
    still_open = sum(s.open_dead_letters for s in report.summaries)
    letters = f"<br>{still_open} dead letters are open now." if still_open else ""
    return (
        f'<p class="empty">No deliveries between {_time(report.window.start)} '
        f"and {_time(report.window.end)}.{letters}</p>"
    )


def _body(report: Report) -> str:
    with matplotlib.rc_context(PLOT_STYLE):
        latency = _svg(_latency_figure(report))
        errors = _svg(_errors_figure(report))
        letters = _svg(_dead_letters_figure(report))
    return "\n".join(
        [
            "<h2>Summary</h2>",
            _summary_table(report.summaries),
            "<h2>Latency</h2>",
            '<p class="note">Percentiles per bucket, log scale. End-to-end: CRM commit to the vendor\'s '
            "acknowledgement (acknowledged attempts). Request: one HTTP attempt (all attempts). "
            "Shaded: destination paused.</p>",
            f"<figure>{latency}</figure>",
            "<h2>Errors and retries</h2>",
            '<p class="note">Attempts that were not acknowledged, by response and by what happened next.</p>',
            f"<figure>{errors}</figure>",
            "<h2>Dead letters</h2>",
            f"<figure>{letters}</figure>",
            "<h2>Pauses</h2>",
            _pause_table(report.pauses),
        ]
    )


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _SVG_METADATA.sub("", _SVG_PREAMBLE.sub("", buffer.getvalue(), count=1))


def _quantiles_text(q: Quantiles | None) -> list[str]:
    return ["-"] * 3 if q is None else [duration_text(q.p50), duration_text(q.p95), duration_text(q.p99)]


def _summary_row(s: DestinationSummary) -> str:
    rate = "-" if s.success_rate is None else f"{s.success_rate:.1%}"
    cells = [
        escape(s.destination),
        str(s.attempts),
        rate,
        *_quantiles_text(s.end_to_end_ms),
        *_quantiles_text(s.request_ms),
        str(s.retries),
        str(s.dead_letters),
        f'<span class="bad">{s.open_dead_letters}</span>' if s.open_dead_letters else "0",
        f"{s.pauses} ({_span_text(s.paused)})" if s.pauses else "0",
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _summary_table(summaries: Sequence[DestinationSummary]) -> str:
    return (
        "<table>\n<thead>\n"
        '<tr><th rowspan="2">destination</th><th rowspan="2">attempts</th><th rowspan="2">ok rate</th>'
        '<th colspan="3">end-to-end</th><th colspan="3">request</th><th rowspan="2">retries</th>'
        '<th rowspan="2">dead letters</th><th rowspan="2">open now</th><th rowspan="2">pauses</th></tr>\n'
        "<tr><th>p50</th><th>p95</th><th>p99</th><th>p50</th><th>p95</th><th>p99</th></tr>\n</thead>\n<tbody>\n"
        + "\n".join(_summary_row(s) for s in summaries)
        + "\n</tbody>\n</table>"
    )


def _pause_table(pauses: Sequence[PauseInterval]) -> str:
    if not pauses:
        return '<p class="note">No destination was paused in this window.</p>'
    rows = "\n".join(
        f"<tr><td>{escape(p.destination)}</td><td>{_time(p.start)}</td>"
        f"<td>{'still paused' if p.ongoing else _time(p.end)}</td>"
        f"<td>{_span_text(p.duration)}</td><td>{escape(p.cause)}</td></tr>"
        for p in pauses
    )
    return (
        "<table>\n<thead><tr><th>destination</th><th>paused</th><th>resumed</th><th>for</th>"
        f"<th>cause</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    )


def _days(at: datetime) -> float:
    """Matplotlib's date number (days since DATE_EPOCH), without the untyped `date2num`."""
    return (at - DATE_EPOCH) / timedelta(days=1)


def _time_axis(ax: Axes, report: Report) -> None:
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]  # matplotlib.dates has no stubs
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    ax.set_xlim(_days(report.window.start), _days(report.window.end))


def _shade_pauses(ax: Axes, report: Report, destination: str) -> None:
    for pause in report.pauses:
        if pause.destination == destination:
            ax.axvspan(_days(pause.start), _days(pause.end), color=PAUSE_COLOUR, alpha=0.45, lw=0, zorder=0)


def _latency_axes(ax: Axes, report: Report, values: Sequence[Quantiles | None], unit_ms: float) -> None:
    x = [_days(at) for at in report.buckets]
    if all(v is None for v in values):
        ax.text(0.5, 0.5, "nothing measured", transform=ax.transAxes, ha="center", color="#888")
        return
    plotted: list[float] = []
    for name, (colour, style) in QUANTILE_LINES.items():
        y = [np.nan if v is None else getattr(v, name) / unit_ms for v in values]
        ax.plot(x, y, color=colour, linestyle=style, marker="o", markersize=2, linewidth=1.3)
        plotted += [v for v in y if v > 0]
    _log_axis(ax, plotted)


def _plain(value: float, _: int | None = None) -> str:
    return f"{value:,.12g}"


def _plain_2_and_5(value: float, _: int | None = None) -> str:
    mantissa = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
    return _plain(value) if any(math.isclose(mantissa, m) for m in (2, 5)) else ""


def _log_axis(ax: Axes, values: list[float]) -> None:
    """Plain numbers (20, 0.5), not 2e1; 2s and 5s labelled too when the range is narrow."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    narrow = bool(values) and max(values) < 100 * min(values)
    ax.yaxis.set_minor_formatter(FuncFormatter(_plain_2_and_5) if narrow else NullFormatter())


def _delivering(report: Report) -> list[DestinationSeries]:
    """Destinations with attempts or pauses (not, say, dead letters rejected before routing)."""
    shown = {s.destination for s in report.summaries if s.attempts or s.pauses}
    return [s for s in report.series if s.destination in shown]


def _latency_figure(report: Report) -> Figure:
    rows = len(_delivering(report))
    figure = Figure(figsize=(12, 0.7 + 2.5 * rows), layout="constrained")
    axes = figure.subplots(rows, 2, sharex=True, squeeze=False)
    for (left, right), series in zip(axes, _delivering(report), strict=True):
        _latency_axes(left, report, series.end_to_end_ms, 1000)
        left.set_title(f"{series.destination}: end-to-end (commit → vendor ack)", loc="left")
        left.set_ylabel("seconds")
        _latency_axes(right, report, series.request_ms, 1)
        right.set_title(f"{series.destination}: request latency", loc="left")
        right.set_ylabel("milliseconds")
        for ax in (left, right):
            _shade_pauses(ax, report, series.destination)
            _time_axis(ax, report)
    for ax in axes[-1]:
        ax.set_xlabel("time (UTC)")
    handles: list[Artist] = [
        Line2D([], [], color=c, linestyle=s, label=n) for n, (c, s) in QUANTILE_LINES.items()
    ]
    handles.append(Patch(color=PAUSE_COLOUR, alpha=0.45, label="paused"))
    figure.legend(handles=handles, loc="outside upper right", ncols=4, frameon=False)
    return figure


def _stacked_bars(ax: Axes, report: Report, stacks: dict[str, list[int]], colours: dict[str, str]) -> None:
    # One filled staircase per layer: a bar per bucket would cost an artist each.
    edges = [_days(at) for at in [*report.buckets, report.buckets[-1] + report.window.bucket]]
    bottom = np.zeros(len(report.buckets))
    for name, counts in stacks.items():
        if any(counts):
            top = bottom + np.asarray(counts)
            ax.stairs(top, edges, baseline=bottom, fill=True, color=colours[name], linewidth=0)
            bottom = top
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not bottom.any():
        ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", color="#888")


def _errors_figure(report: Report) -> Figure:
    rows = len(_delivering(report))
    figure = Figure(figsize=(12, 0.7 + 2.2 * rows), layout="constrained")
    axes = figure.subplots(rows, 2, sharex=True, squeeze=False)
    per_bucket = f"attempts per {_bucket_text(report.window.bucket)}"
    for (left, right), series in zip(axes, _delivering(report), strict=True):
        _stacked_bars(left, report, series.errors, ERROR_COLOURS)
        left.set_title(f"{series.destination}: failed attempts by response", loc="left")
        _stacked_bars(right, report, series.outcomes, OUTCOME_COLOURS)
        right.set_title(f"{series.destination}: failed attempts by next step", loc="left")
        for ax in (left, right):
            ax.set_ylabel(per_bucket)
            _shade_pauses(ax, report, series.destination)
            _time_axis(ax, report)
    for ax in axes[-1]:
        ax.set_xlabel("time (UTC)")
    labels = {"timeout": "timeout / no response", **{k: k for k in ("4xx", "5xx", "other")}}
    handles: list[Artist] = [Patch(color=ERROR_COLOURS[k], label=labels[k]) for k in ERROR_CLASSES]
    handles += [Patch(color=OUTCOME_COLOURS[k], label=OUTCOME_LABELS[k]) for k in OUTCOMES]
    figure.legend(handles=handles, loc="outside upper right", ncols=7, frameon=False)
    return figure


def _dead_letters_figure(report: Report) -> Figure:
    figure = Figure(figsize=(12, 2.8), layout="constrained")
    ax = figure.subplots()
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    palette = {s.destination: colours[i % len(colours)] for i, s in enumerate(report.series)}
    _stacked_bars(ax, report, {s.destination: s.dead_letters for s in report.series}, palette)
    still_open = sum(s.open_dead_letters for s in report.summaries)
    ax.set_title(f"Dead letters per {_bucket_text(report.window.bucket)} ({still_open} open now)", loc="left")
    ax.set_ylabel("dead letters")
    ax.set_xlabel("time (UTC)")
    _time_axis(ax, report)
    handles: list[Artist] = [Patch(color=palette[name], label=name) for name in palette]
    figure.legend(handles=handles, loc="outside upper right", ncols=len(handles), frameon=False)
    return figure
