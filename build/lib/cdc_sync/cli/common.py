"""What every command shares: settings, the config file, output."""

import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import Engine

from cdc_sync.config import AppConfig, load_config
from cdc_sync.errors import ConfigError
from cdc_sync.model.config import DestinationConfig
from cdc_sync.observability.admin_listener import Readiness, always_ready, start_admin_listener
from cdc_sync.observability.logs import REDACTOR, register_secrets, secret_fields
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Process, Settings
from cdc_sync.store.audit import audit
from cdc_sync.store.migrate import require_current


def settings_of(ctx: click.Context) -> Settings:
    state = ctx.ensure_object(dict)
    if "settings" not in state:
        overrides = {"config": state["config"]} if state.get("config") else {}
        state["settings"] = Settings(**overrides)
        register_secrets(*secret_fields(state["settings"]))
    settings: Settings = state["settings"]
    return settings


def config_of(ctx: click.Context) -> AppConfig:
    state = ctx.ensure_object(dict)
    if "app_config" not in state:
        state["app_config"] = load_config(settings_of(ctx).config)
        register_secrets(*_config_secrets(state["app_config"]))
    config: AppConfig = state["app_config"]
    return config


def _config_secrets(config: AppConfig) -> list[str | None]:
    """Destination credentials and webhook secrets the config points to (those that are set)."""
    found: list[str | None] = []
    for name, destination in config.destinations.items():
        with contextlib.suppress(ConfigError):  # a missing one is reported by whatever needs it
            found.append(destination.credential(name).get_secret_value())
    for source in config.sources.values():
        found.extend(os.environ.get(env) for env in source.secret_envs)
    # Chat and pager webhooks carry their token in the URL itself.
    return [*found, config.notifications.url]


def state_engine_of(ctx: click.Context, process: Process = "operator") -> Engine:
    """The database as `process`'s role sees it, once its schema version is checked (migrations
    are the owner's `db migrate`)."""
    engines = ctx.ensure_object(dict).setdefault("state_engines", {})
    if process not in engines:
        engines[process] = state_engine(settings_of(ctx), process)
        require_current(engines[process])
    engine: Engine = engines[process]
    return engine


def destination_of_kind(
    ctx: click.Context, kind: str, name: str | None = None
) -> tuple[str, DestinationConfig]:
    """The destination `name` (which must be of `kind`), or the config's one destination of `kind`."""
    destinations = config_of(ctx).destinations.items()
    found = [(n, d) for n, d in destinations if d.kind == kind and name in (None, n)]
    if len(found) != 1:
        wanted = f"a destination {name!r} of kind" if name else "exactly one destination of kind"
        raise ConfigError(f"the config needs {wanted} {kind!r} (has {len(found)})")
    return found[0]


def actor() -> str:
    """Who runs an operator command, for the audit log."""
    return os.environ.get("CDC_SYNC_ACTOR") or os.environ.get("USER") or "operator"


def emit(data: Any, as_json: bool, lines: list[str]) -> None:
    """A command's output: personal data (e-mails, phone numbers) masked, as in the logs, unless
    the operator passed `--show-pii` (then audited, once per command, as `cli.show_pii`)."""
    text = json.dumps(data, indent=2, default=str) if as_json else "\n".join(lines)
    ctx = click.get_current_context()
    state = ctx.ensure_object(dict)
    if not state.get("show_pii"):
        text = REDACTOR.redact(text)
    elif not state.get("pii_audited"):
        state["pii_audited"] = True
        audit(state_engine_of(ctx), actor(), "cli.show_pii", None, None, None, {"command": ctx.command_path})
    click.echo(text)


def serve_metrics(ctx: click.Context, port: int, hint: str, ready: Readiness = always_ready) -> None:
    """The admin listener of a long-running command (`/metrics`, `/healthz`, `/readyz`) on
    `port`, at `--metrics-host` or CDC_SYNC_METRICS_HOST (127.0.0.1; 0.0.0.0 in a container)."""
    host = ctx.ensure_object(dict).get("metrics_host") or settings_of(ctx).metrics_host
    try:
        start_admin_listener(host, port, ready)
    except OSError as exc:
        raise ConfigError(f"metrics port {host}:{port} unavailable ({exc.strerror}); {hint}") from exc


def metrics_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--metrics-host` and `--metrics-port` of a long-running command (the port's default, if
    any, is the config's)."""
    command = click.option(
        "--metrics-port",
        type=click.IntRange(1, 65535),
        help="The admin listener's port (/metrics, /healthz, /readyz).",
    )(command)
    return click.option(
        "--metrics-host",
        callback=lambda ctx, _, host: ctx.ensure_object(dict).update(metrics_host=host),
        expose_value=False,
        help="The admin listener's address [CDC_SYNC_METRICS_HOST; 127.0.0.1].",
    )(command)


def attempt_line(row: dict[str, Any]) -> str:
    """One delivery attempt of the ledger, as `deliveries` and `dlq show` print it."""
    return (
        f"{row['at']:%Y-%m-%d %H:%M:%S} {row['destination']:<10} {row['entity']:<16} {row['operation']:<22} "
        f"#{row['attempt']} {row['outcome']:<11} {row['status_code'] or '-'} {row['latency_ms']:.0f}ms "
        f"{row['error'] or ''}"
    ).rstrip()


def confirm(question: str, yes: bool) -> None:
    """Destructive commands ask first; without a terminal to ask on they need --yes (exit 2)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question.rstrip('?')}: pass --yes, there is no terminal to ask on")
    click.confirm(question, abort=True, err=True)
