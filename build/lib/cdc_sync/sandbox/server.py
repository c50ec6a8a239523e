"""The settings the vendor sandboxes share, their uvicorn configuration, and serving them all in
one process (tests; `cdc-sync sandbox` runs one process per vendor, see `processes`). The vendors
come from the registry: each brings its app, its default port and its own settings."""

import asyncio
import contextlib
import logging
import re
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from starlette.applications import Starlette

from cdc_sync.sandbox.faults import ConnectionDropped, Faults
from cdc_sync.vendors.registry import SANDBOXES

DURATION = re.compile(r"^\s*(?P<amount>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m)?\s*$")
SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PORT = TypeAdapter(Annotated[int, Field(ge=0, le=65535)])


class SandboxPorts(BaseModel):
    """A port per sandbox, by its name; a vendor's own default where none is given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _every_sandbox(cls, given: Any) -> Any:
        if not isinstance(given, dict):
            return given
        unknown = sorted(set(given) - set(SANDBOXES))
        if unknown:
            raise ValueError(f"no sandbox {', '.join(unknown)}; known: {', '.join(SANDBOXES)}")
        ports = {name: PORT.validate_python(given.get(name, app.port)) for name, app in SANDBOXES.items()}
        return ports

    def of(self, vendor: str) -> int:
        return int((self.model_extra or {})[vendor])

    if TYPE_CHECKING:

        def __getattr__(self, vendor: str) -> int: ...


class SandboxSettings(BaseModel):
    """What every sandbox shares, and the vendors' own settings as flat keys (`SandboxApp.settings`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    host: str = "127.0.0.1"
    ports: SandboxPorts = SandboxPorts()
    faults: Faults = Faults()  # in force at startup and after every reset, in all the apps
    request_log_limit: int = Field(default=10_000, ge=1)  # `/_sandbox/requests` keeps the newest ones
    request_log_bytes: int = Field(default=64 * 1024 * 1024, ge=0)  # and at most about this much body

    @model_validator(mode="before")
    @classmethod
    def _vendor_settings(cls, given: Any) -> Any:
        """Every vendor's settings, checked by its model, defaults filled in; no key nobody owns."""
        if not isinstance(given, dict):
            return given
        extras = {key: value for key, value in given.items() if key not in cls.model_fields}
        vendors: dict[str, Any] = {}
        for model in (app.settings for app in SANDBOXES.values() if app.settings is not None):
            mine = {key: value for key, value in extras.items() if key in model.model_fields}
            vendors.update(model.model_validate(mine).model_dump())
        unknown = sorted(set(extras) - set(vendors))
        if unknown:
            raise ValueError(f"no sandbox setting {', '.join(unknown)}")
        return {**given, **vendors}

    def secrets(self) -> list[str]:
        """The vendors' credentials and signing secrets, to mask in logs."""
        extras = self.model_extra or {}
        return [str(extras[name]) for app in SANDBOXES.values() for name in app.secret_fields]

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


def parse_duration(text: str) -> float:
    """Seconds in "10s", "250ms", "2m" or a bare number of seconds such as "1.5"."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: expected a number of seconds, or one ending in ms, s or m"
        )
    return float(match["amount"]) * SECONDS_PER_UNIT[match["unit"] or "s"]


class WithoutDroppedConnections(logging.Filter):
    """A dropped connection is a fault the operator asked for, not an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


QUIET_DROPS = WithoutDroppedConnections()  # one instance, so serving again does not stack filters


VendorName = str  # a sandbox's name in the registry, and its key in `SandboxPorts`
AppFactory = Callable[[SandboxSettings], Starlette]
# The vendors' own apps (`vendors/<name>/sandbox.py`), as the registry lists them.
APPS: dict[VendorName, AppFactory] = {name: app.create for name, app in SANDBOXES.items()}


def server_config(settings: SandboxSettings, vendor: VendorName) -> uvicorn.Config:
    """uvloop's loop (used when uvicorn runs the server itself) and httptools' parser: the
    sandboxes must never be what a benchmark measures."""
    return uvicorn.Config(
        APPS[vendor](settings),
        host=settings.host,
        port=settings.ports.of(vendor),
        loop="uvloop",
        http="httptools",
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def server_configs(settings: SandboxSettings) -> list[uvicorn.Config]:
    return [server_config(settings, vendor) for vendor in APPS]


class GroupedServer(uvicorn.Server):
    """One of several servers stopped together, so signals are handled once for the group.

    uvicorn's own per-server handlers nest, and servers stopping in start order leave a dead
    server's handler installed (a later Ctrl+C then does nothing).
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def stop(servers: list[GroupedServer]) -> None:
    for server in servers:
        server.force_exit = server.should_exit  # a second signal stops waiting for open requests
        server.should_exit = True


@contextlib.contextmanager
def stopping_on_signals(servers: list[GroupedServer]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals; the caller stops us by cancelling
        return
    previous = {sig: signal.signal(sig, lambda _sig, _frame: stop(servers)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def serve_sandboxes(settings: SandboxSettings) -> None:
    """Serve every vendor sandbox until SIGINT/SIGTERM or cancellation."""
    servers = [GroupedServer(config) for config in server_configs(settings)]
    # uvicorn configures its loggers when a Config is built, so the filter goes on afterwards.
    logging.getLogger("uvicorn.error").addFilter(QUIET_DROPS)
    with stopping_on_signals(servers):
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # one ending ends all
        finally:
            stop(servers)  # and let each close its sockets and finish in-flight requests
            await asyncio.wait(tasks)
    for task in tasks:
        task.result()  # a server's failure is the caller's failure
