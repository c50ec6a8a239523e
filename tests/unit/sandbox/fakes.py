"""Deterministic stand-ins for time and chance, and a client wired to an app without sockets."""

import asyncio
import socket
from random import Random

import httpx
from starlette.applications import Starlette

from cdc_sync.sandbox.faults import Faults
from cdc_sync.sandbox.server import SandboxPorts, SandboxSettings
from cdc_sync.vendors.registry import SANDBOXES

START = 1_760_000_000.0
MAILCHIMP_AUTH = ("anystring", "sandbox-mailchimp-key")
ZENDESK_AUTH = ("agent@example.com/token", "sandbox-zendesk-token")


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedRandom(Random):
    """Hands out the given draws in order and fails loudly when asked for one too many."""

    def __init__(self, *draws: float) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def random(self) -> float:
        if not self.draws:
            raise AssertionError("the sandbox drew a random number the test did not expect")
        return self.draws.pop(0)


def settings(**faults: object) -> SandboxSettings:
    return SandboxSettings(faults=Faults.model_validate(faults))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def on_free_ports() -> SandboxSettings:
    """Every vendor's sandbox on a port of its own nobody else holds."""
    return SandboxSettings(ports=SandboxPorts.model_validate({name: free_port() for name in SANDBOXES}))


def bases(settings: SandboxSettings) -> list[str]:
    """Each sandbox's base URL, in registry order (marketing, helpdesk, erp, ...)."""
    return [f"http://127.0.0.1:{settings.ports.of(name)}" for name in SANDBOXES]


def client(app: Starlette, auth: tuple[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test", auth=auth
    )


class SteppedSleep:
    """Stands in for asyncio.sleep where the sandbox waits on purpose (Zendesk jobs): each wait
    ends only when the test calls `step`, so a job's states can be seen one by one."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future[None]] = []

    async def __call__(self, seconds: float) -> None:
        waiting = asyncio.get_running_loop().create_future()
        self.pending.append(waiting)
        await waiting

    async def step(self) -> None:
        for _ in range(10):  # a task just created has not reached its first wait yet
            self.pending = [waiting for waiting in self.pending if not waiting.done()]  # cancelled ones
            if self.pending:
                break
            await asyncio.sleep(0)
        assert self.pending, "nothing is waiting"
        self.pending.pop(0).set_result(None)
        for _ in range(3):  # let the waiter run up to its next wait
            await asyncio.sleep(0)
