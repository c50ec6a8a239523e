"""The latency report from the delivery ledger (data, then a self-contained HTML page)."""

from types import ModuleType

from cdc_sync.errors import ConfigError


def html_plots() -> ModuleType:
    """`cdc_sync.report.html`, which draws with matplotlib: the `report` extra, imported only by
    what draws (it takes ~0.4 s), and a clear error where it is not installed."""
    try:
        from cdc_sync.report import html
    except ModuleNotFoundError as exc:
        missing = f"the report needs the `report` extra ({exc.name} is not installed)"
        raise ConfigError(f"{missing}: pip install 'cdc-sync[report]'") from exc
    return html
