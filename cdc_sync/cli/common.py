"""What every command shares: settings, the config file, output."""

import json
import os
from typing import Any

import click
from sqlalchemy import Engine

from cdc_sync.config import AppConfig, load_config
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    state = ctx.ensure_object(dict)
    if "settings" not in state:
        overrides = {"config": state["config"]} if state.get("config") else {}
        state["settings"] = Settings(**overrides)
    settings: Settings = state["settings"]
    return settings


def config_of(ctx: click.Context) -> AppConfig:
    state = ctx.ensure_object(dict)
    if "app_config" not in state:
        state["app_config"] = load_config(settings_of(ctx).config)
    config: AppConfig = state["app_config"]
    return config


def state_engine_of(ctx: click.Context) -> Engine:
    return state_engine(settings_of(ctx))


def actor() -> str:
    """Who runs an operator command, for the audit log."""
    return os.environ.get("CDC_SYNC_ACTOR") or os.environ.get("USER") or "operator"


def emit(data: Any, as_json: bool, lines: list[str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else "\n".join(lines))
