"""`make chaos` (`python -m bench.chaos [SCENARIO...]`): faults on the real stack while the CRM
changes, a table, and bench/results/chaos.json. CHAOS_SCALE (default 1.0) shrinks the sizes and
durations, e.g. 0.05 for a quick run. After every scenario the stack is brought back up with the
connector RUNNING, whatever happened.
"""

import json
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from bench.chaos import faults, stack
from bench.chaos.inbound import serve_killed
from bench.chaos.outbound import scenario
from bench.chaos.proxy import Proxy
from bench.chaos.report import table
from bench.chaos.slot import slot_dropped
from bench.chaos.verdict import Outcome
from bench.processes import CLI, running, wait_for_sandbox_ports, wait_for_sandboxes
from bench.rig import Rig
from cdc_sync.config import load_config
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.settings import Settings
from cdc_sync.store.migrate import migrate

RESULTS = Path(__file__).parents[1] / "results" / "chaos.json"
SCALE = float(os.environ.get("CHAOS_SCALE", "1.0"))
PEAK_PER_S = 10_000 / 60  # SPEC §9's peak, 10,000 changes a minute
KILL_GAP_S = 55.0  # a restart may wait out the killed consumer's session timeout (45 s)
PART_ALLOWANCE_S = 40.0  # writes go on this long past the lead while a part restarts
PROXY = {9111: 9101, 9112: 9102}

Scenario = Callable[[Rig], Outcome]


def _kills() -> int:
    return max(3, round(10 * math.sqrt(SCALE)))


def _lead() -> float:
    return max(10.0, 60 * SCALE)


def run_kill9(rig: Rig) -> Outcome:
    kills = _kills()
    seconds = kills * KILL_GAP_S
    return scenario(rig, "run_kill9", 100_000 * SCALE / seconds, seconds, faults.kill_run(kills))


def serve_kill9(rig: Rig) -> Outcome:
    return serve_killed(rig, 200.0, max(10.0, 200 * SCALE), _kills())


def _restart(part: stack.Part) -> Scenario:
    def run(rig: Rig) -> Outcome:
        seconds = 2 * _lead() + PART_ALLOWANCE_S
        return scenario(rig, f"restart_{part}", PEAK_PER_S, seconds, faults.restart_part(part, _lead()))

    return run


def _via_proxy(config: dict[str, Any]) -> None:
    for (listen, _), name in zip(PROXY.items(), ("marketing", "helpdesk"), strict=True):
        config["destinations"][name]["base_url"] = f"http://127.0.0.1:{listen}"


def vendor_outage(rig: Rig) -> Outcome:
    outage, lead = 600 * SCALE, 10.0
    proxy = Proxy(PROXY)
    proxy.accept()
    try:
        fault = faults.vendor_outage(proxy, lead, outage)
        return scenario(rig, "vendor_outage", PEAK_PER_S, lead + outage + 10, fault, _via_proxy)
    finally:
        proxy.stop()


def poison(rig: Rig) -> Outcome:
    rounds = max(2, round(20 * SCALE))
    outcome = scenario(rig, "poison", PEAK_PER_S, max(20.0, rounds + 15), faults.poison(5, rounds, 1.0))
    produced = sum(outcome.figures.get("poison_produced", {}).values())
    lettered = sum(n for reason, n in outcome.dead_letters.items() if reason.startswith("undecodable"))
    if lettered != produced:
        outcome.error = f"{lettered} of {produced} poison records dead-lettered as undecodable"
    return outcome


def slot_loss(rig: Rig) -> Outcome:
    outcome = scenario(rig, "slot_loss", 50.0, 80.0, slot_dropped(10.0))
    outcome.expect_human = True
    outcome.alert_s = outcome.figures.get("alert_s")
    return outcome


SCENARIOS: dict[str, Scenario] = {
    "run_kill9": run_kill9,
    "serve_kill9": serve_kill9,
    **{f"restart_{part}": _restart(part) for part in ("kafka", "connect", "postgres", "registry")},
    "vendor_outage": vendor_outage,
    "poison": poison,
    "slot_loss": slot_loss,
}


def _one(rig: Rig, name: str) -> Outcome:
    try:
        return SCENARIOS[name](rig)
    except Exception as exc:
        traceback.print_exc()
        return Outcome(name, error=f"{type(exc).__name__}: {exc}")
    finally:
        stack.ensure_healthy()


def _chosen(args: list[str]) -> list[str]:
    unknown = [name for name in args if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"chaos: unknown scenario {unknown}; choose from {list(SCENARIOS)}")
    return args or list(SCENARIOS)


def _record(outcomes: list[Outcome]) -> None:
    rows = [{**asdict(o), "passed": o.passed} for o in outcomes]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"chaos_scale": SCALE, "scenarios": rows}, indent=2, default=str))


def main() -> None:
    names = _chosen(sys.argv[1:])
    stack.ensure_healthy()  # as `make chaos` leaves it: up, the connector RUNNING
    settings = Settings()
    crm = create_engine(settings.crm_admin_dsn.get_secret_value(), pool_pre_ping=True)
    state = create_engine(settings.crm_dsn.get_secret_value(), pool_pre_ping=True)
    migrate(state_engine(settings, "owner"))
    wait_for_sandbox_ports()
    outcomes: list[Outcome] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running([CLI, "sandbox"], Path(tmp) / "sandbox.log") as sandbox,
    ):
        wait_for_sandboxes()
        rig = Rig(settings, load_config(settings.config), crm, state, Path(tmp), sandbox.pid)
        for name in names:
            outcomes.append(_one(rig, name))
            _record(outcomes)
            print(table(outcomes[-1:], SCALE), flush=True)
    print(table(outcomes, SCALE))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
