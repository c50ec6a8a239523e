"""What every command shares: settings, the config file, output."""

import contextlib
import json
import os
from typing import Any

import click
from sqlalchemy import Engine

from cdc_sync.config import AppConfig, load_config
from cdc_sync.errors import ConfigError
from cdc_sync.observability.logs import register_secrets, secret_fields
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Settings


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
    return found


def state_engine_of(ctx: click.Context) -> Engine:
    return state_engine(settings_of(ctx))


def actor() -> str:
    """Who runs an operator command, for the audit log."""
    return os.environ.get("CDC_SYNC_ACTOR") or os.environ.get("USER") or "operator"


def emit(data: Any, as_json: bool, lines: list[str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else "\n".join(lines))
