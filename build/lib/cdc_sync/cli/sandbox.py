"""`cdc-sync sandbox`: the vendor stand-ins with fault injection."""

import sys

import click

from cdc_sync.observability.logs import register_secrets
from cdc_sync.sandbox.faults import Faults
from cdc_sync.sandbox.processes import serve_in_processes
from cdc_sync.sandbox.server import APPS, SandboxSettings, parse_duration


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("sandbox")
@click.option("--latency", callback=_duration, help="Added latency per request, e.g. 10s or 250ms.")
@click.option(
    "--fail-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of requests answered --status."
)
@click.option("--status", "error_status", type=click.IntRange(400, 599), default=503, show_default=True)
@click.option(
    "--rate-limit", type=click.FloatRange(min=0, min_open=True), help="Requests per second before 429."
)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox(
    latency: float | None, fail_rate: float, error_status: int, rate_limit: float | None, host: str
) -> None:
    """Every registered vendor's sandbox, one process each on the vendor's own port (9101, 9102,
    ...; the README lists them); faults changeable at /_sandbox/faults."""
    faults = Faults(
        latency_ms=int((latency or 0) * 1000),
        error_rate=fail_rate,
        error_status=error_status,
        rate_limit_per_s=rate_limit,
    )
    settings = SandboxSettings(host=host, faults=faults)
    register_secrets(*settings.secrets())
    ports = ", ".join(f"{name} {settings.ports.of(name)}" for name in APPS)
    click.echo(f"sandboxes on {host}: {ports} ({faults.model_dump()})", err=True)
    sys.exit(serve_in_processes(settings))
