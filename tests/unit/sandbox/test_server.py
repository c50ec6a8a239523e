"""Settings, the CLI's duration parser, and every vendor's sandbox served over real sockets."""

import asyncio
import base64
import signal

import httpx
import pytest

from cdc_sync.sandbox.server import SandboxPorts, SandboxSettings, parse_duration, serve_sandboxes
from tests.unit.sandbox.fakes import ZENDESK_AUTH, bases, on_free_ports


@pytest.mark.parametrize(
    ("text", "seconds"), [("10s", 10.0), ("250ms", 0.25), ("1.5", 1.5), (" 2m ", 120.0), (".5s", 0.5)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "-1s", "10h", "1.5.2", "ms"])
def test_parse_duration_refuses_readably(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_settings_defaults() -> None:
    settings = SandboxSettings()
    assert (settings.host, settings.ports) == (
        "127.0.0.1",
        SandboxPorts(marketing=9101, helpdesk=9102, erp=9103, callcenter=9104),
    )
    assert (settings.mailchimp_api_key, settings.zendesk_api_token) == (
        "sandbox-mailchimp-key",
        "sandbox-zendesk-token",
    )
    secret = settings.erp_webhook_secret.removeprefix("whsec_")
    assert base64.b64decode(secret) == b"sandbox-erp-webhook-secret-0001"


async def wait_until_up(http: httpx.AsyncClient, base: str) -> None:
    for _ in range(200):
        try:
            await http.get(f"{base}/_sandbox/faults")
            return
        except httpx.ConnectError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"{base} never came up")


async def effects_total(http: httpx.AsyncClient, base: str, expected: int) -> int:
    """The effect count once it reaches `expected` (the server may still be sleeping), else the last seen."""
    total = -1
    for _ in range(100):
        total = int((await http.get(f"{base}/_sandbox/effects")).json()["total"])
        if total == expected:
            break
        await asyncio.sleep(0.02)
    return total


@pytest.mark.anyio
async def test_serves_every_sandbox_until_cancelled() -> None:
    settings, interrupt_handler = on_free_ports(), signal.getsignal(signal.SIGINT)
    serving = asyncio.create_task(serve_sandboxes(settings))
    async with httpx.AsyncClient(timeout=2.0) as http:
        for base in bases(settings):
            await wait_until_up(http, base)
        marketing, helpdesk, *_ = bases(settings)

        await http.put(f"{marketing}/_sandbox/faults", json={"drop_connection_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{marketing}/3.0/lists/l/members")

        # A client that gives up on a slow vendor still had its change applied.
        await http.put(f"{helpdesk}/_sandbox/faults", json={"latency_ms": 300})
        user = {"user": {"email": "ada@example.com", "name": "Ada"}}
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                f"{helpdesk}/api/v2/users/create_or_update", json=user, auth=ZENDESK_AUTH, timeout=0.05
            )
        assert await effects_total(http, helpdesk, 1) == 1

        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{marketing}/_sandbox/faults")
    assert signal.getsignal(signal.SIGINT) is interrupt_handler


@pytest.mark.anyio
async def test_sigterm_stops_them_all() -> None:
    settings = on_free_ports()
    serving = asyncio.create_task(serve_sandboxes(settings))
    async with httpx.AsyncClient(timeout=2.0) as http:
        for base in bases(settings):
            await wait_until_up(http, base)
        # Guard first: SIGTERM's default action would end the test run instead of failing this test.
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(serving, timeout=5)  # returns normally: a signal is a clean stop
        for base in bases(settings):
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{base}/_sandbox/faults")


def test_a_setting_no_vendor_sandbox_has_is_refused() -> None:
    with pytest.raises(ValueError, match="no sandbox setting mailchimp_api_keys"):
        SandboxSettings.model_validate({"mailchimp_api_keys": "typo"})
    with pytest.raises(ValueError, match="no sandbox crm"):
        SandboxPorts.model_validate({"crm": 9100})


def test_vendor_settings_survive_the_trip_to_a_child_process() -> None:
    settings = SandboxSettings(zendesk_api_token="t-1", ports=SandboxPorts(helpdesk=9202))
    again = SandboxSettings.model_validate_json(settings.model_dump_json())
    assert (again.zendesk_api_token, again.ports.of("helpdesk"), again.ports.of("marketing")) == (
        "t-1",
        9202,
        9101,
    )
    assert "t-1" in again.secrets()
