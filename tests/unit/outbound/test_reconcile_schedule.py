"""The reconciliation schedule inside `cdc-sync run`: a pass per interval, each destination on
its own, failures logged and not fatal, and it stops with the service."""

import asyncio
import logging

import pytest

from cdc_sync.config import AppConfig, DestinationConfig, ReconcileConfig
from cdc_sync.outbound.reconcile_schedule import SCHEDULED_ACTOR, reconcile_forever
from cdc_sync.repair.reconcile import DestinationReport, summarize
from cdc_sync.repair.reconciler import ReconcileRequest


def destination(kind: str) -> DestinationConfig:
    return DestinationConfig.model_validate(
        {"kind": kind, "system": "marketing", "base_url": "http://v", "tables": ["public.contacts"]}
    )


class ScriptedPasses:
    def __init__(self, interval_s: float, passes_before_stop: int, stop: asyncio.Event) -> None:
        self.config = AppConfig(
            destinations={"broken": destination("zendesk"), "fine": destination("mailchimp")},
            reconcile=ReconcileConfig(interval_s=interval_s, fix=True, sample=25),
        )
        self.requests: list[ReconcileRequest] = []
        self._left, self._stop = passes_before_stop * 2, stop

    async def run(self, request: ReconcileRequest) -> list[DestinationReport]:
        self.requests.append(request)
        self._left -= 1
        if self._left == 0:
            self._stop.set()
        if request.destinations == ("broken",):
            raise RuntimeError("vendor down")
        return [summarize("fine", "mailchimp", [])]


def test_each_pass_reconciles_every_destination_and_survives_a_failing_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def go() -> ScriptedPasses:
        stop = asyncio.Event()
        passes = ScriptedPasses(0.01, passes_before_stop=3, stop=stop)
        await asyncio.wait_for(reconcile_forever(passes, stop), 5)
        return passes

    with caplog.at_level(logging.INFO):
        passes = asyncio.run(go())
    assert [r.destinations for r in passes.requests] == [("broken",), ("fine",)] * 3
    assert {(r.fix, r.sample, r.actor) for r in passes.requests} == {(True, 25, SCHEDULED_ACTOR)}
    assert sum("scheduled reconciliation of broken failed" in m for m in caplog.messages) == 3


def test_the_first_pass_waits_one_interval_so_a_stop_before_it_runs_nothing() -> None:
    async def go() -> ScriptedPasses:
        stop = asyncio.Event()
        passes = ScriptedPasses(60.0, passes_before_stop=1, stop=stop)
        task = asyncio.create_task(reconcile_forever(passes, stop))
        await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 1)
        return passes

    assert asyncio.run(go()).requests == []
