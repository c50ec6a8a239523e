"""Everything a phase needs: settings, config, both databases, a scratch dir and the sandbox."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from bench.cpu import CpuMeter, fixed, stack_groups
from cdc_sync.config import AppConfig
from cdc_sync.outbound.pipeline import build_routes
from cdc_sync.settings import Settings


@dataclass(frozen=True)
class Rig:
    settings: Settings
    config: AppConfig
    crm: Engine  # the CRM as its owner: the load writer
    state: Engine  # cdc-sync's own role: ledger and lookups
    tmp: Path
    sandbox_pid: int

    @property
    def topics(self) -> list[str]:
        return sorted(f"{self.settings.topic_prefix}.{table}" for table in build_routes(self.config))

    @property
    def destinations(self) -> list[str]:
        return sorted(self.config.destinations)

    def base_url(self, destination: str) -> str:
        return str(self.config.destinations[destination].base_url).rstrip("/")

    def meter(self, **pids: int) -> CpuMeter:
        """cdc-sync's own processes (by name), the sandbox tree, the stack's JVMs and PostgreSQL."""
        groups = {name: fixed(pid) for name, pid in pids.items()}
        return CpuMeter({**groups, "sandbox": fixed(self.sandbox_pid), **stack_groups()})
