"""`make fuzz`: hostile inputs against every webhook source and the outbound decoder.

Every source of the config (`/webhooks/{source}` in-process, on the stack's PostgreSQL inbox) and
the decoder (`envelope`: Kafka records; `registry`: schema-registry answers) get a share of
FUZZ_BUDGET inputs (default 100,000), drawn by hypothesis from FUZZ_SEED. Invariants: no answer
>= 500, no uncaught exception (the decoder raises only its own families), no inbox row from a
refused request, no 2xx for a request that is not validly signed, a row for every "accepted".
Prints a table and the findings, writes bench/results/fuzz.json; exits 1 if an invariant broke.
Run it under the stack's lock: the inbox rows it adds are deleted at the end, by id.
"""

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import strategies as st
from sqlalchemy import Engine

from bench.fuzz.engine import explore
from bench.fuzz.envelopes import (
    FixtureSchemas,
    RegistryAnswer,
    decode_observation,
    load_golden,
    records,
    registry_answers,
    registry_observation,
)
from bench.fuzz.front_door import FrontDoorRig, capture_logs, front_door
from bench.fuzz.tally import Observation, Tally, table
from bench.fuzz.webhooks import Case, cases
from cdc_sync.config import load_config
from cdc_sync.inbound.sources import SourceConfig
from cdc_sync.outbound.assembly import state_engine
from cdc_sync.outbound.envelope import EnvelopeDecoder, RawMessage
from cdc_sync.settings import Settings
from cdc_sync.store.migrate import migrate

RESULTS = Path(__file__).parents[1] / "results" / "fuzz.json"
BUDGET = int(os.environ.get("FUZZ_BUDGET", "100000"))
SEED = int(os.environ.get("FUZZ_SEED", "20261123"))
# The webhook sources share 60% of the budget equally; the decoder's two targets the rest.
WEBHOOK_SHARE = 0.6
DECODER_SHARES = {"envelope": 0.3, "registry": 0.1}
PROGRESS_EVERY = 5000
AREAS = dict.fromkeys(DECODER_SHARES, "outbound: cdc_sync/outbound/envelope.py, registry.py")
# For a quick look at some targets, e.g. FUZZ_TARGETS=envelope,registry (no stack needed then).
ONLY = [name for name in os.environ.get("FUZZ_TARGETS", "").split(",") if name]
Input = TypeVar("Input")


def budgets(total: int, sources: list[str]) -> dict[str, int]:
    """Inputs per target, adding up to `total`."""
    shares = {source: WEBHOOK_SHARE / len(sources) for source in sources} | DECODER_SHARES
    counts = {target: int(total * share) for target, share in shares.items()}
    counts[sources[0]] += total - sum(counts.values())
    return counts


def fuzz(
    tally: Tally,
    strategy: st.SearchStrategy[Input],
    budget: int,
    observe: Callable[[Input], Observation],
    describe: Callable[[Input], dict[str, Any]],
) -> Tally:
    def each(case: Input) -> None:
        tally.add(observe(case), describe(case))
        if tally.inputs % PROGRESS_EVERY == 0:
            print(
                f"  {tally.target}: {tally.inputs:,} inputs, {sum(tally.broken.values())} broken", flush=True
            )

    started = time.monotonic()
    explore(strategy, budget, SEED, each)
    tally.seconds = time.monotonic() - started
    return tally


def webhook_tallies(
    engine: Engine, sources: Mapping[str, SourceConfig], counts: dict[str, int]
) -> list[Tally]:
    logs = capture_logs()
    tallies = []
    with asyncio.Runner() as loop:
        rig = front_door(engine, sources, logs)
        try:
            for source in sources:
                print(f"{source}: {counts[source]:,} inputs", flush=True)
                tallies.append(
                    fuzz(Tally(source), cases(source), counts[source], _sender(loop, rig), _told(rig))
                )
        finally:
            print(f"removed the {rig.rows.forget():,} inbox rows this run added", flush=True)
    return tallies


def _sender(loop: asyncio.Runner, rig: FrontDoorRig) -> Callable[[Case], Observation]:
    return lambda case: loop.run(rig.observe(case))


def _told(rig: FrontDoorRig) -> Callable[[Case], dict[str, Any]]:
    return lambda case: {**case.describe(), "sent": rig.last_sent}


def decoder_tallies(counts: dict[str, int], wanted: list[str]) -> list[Tally]:
    golden = load_golden()
    decoder = EnvelopeDecoder(FixtureSchemas(golden.schemas))

    def on_record(message: RawMessage) -> Observation:
        return decode_observation(decoder, message)

    def on_answer(answer: RegistryAnswer) -> Observation:
        return registry_observation(golden, answer)

    tallies = []
    if "envelope" in wanted:
        print(f"envelope: {counts['envelope']:,} inputs", flush=True)
        tallies.append(fuzz(_undb("envelope"), records(golden), counts["envelope"], on_record, _record_told))
    if "registry" in wanted:
        print(f"registry: {counts['registry']:,} inputs", flush=True)
        answers = registry_answers(golden)
        tallies.append(
            fuzz(_undb("registry"), answers, counts["registry"], on_answer, RegistryAnswer.describe)
        )
    return tallies


def _undb(target: str) -> Tally:
    return Tally(target, writes_checked=False)  # the decoder writes nowhere


def _record_told(message: RawMessage) -> dict[str, Any]:
    return {
        "topic": message.topic,
        "key_hex": message.key.hex() if message.key is not None else None,
        "value_hex": message.value.hex() if message.value is not None else None,
    }


def report(tallies: list[Tally], seconds: float) -> dict[str, Any]:
    findings = [
        {**vars(finding), "area": AREAS.get(finding.target, "inbound: cdc_sync/inbound")}
        for tally in tallies
        for finding in tally.findings.values()
    ]
    return {
        "seed": SEED,
        "budget": BUDGET,
        "seconds": round(seconds, 1),
        "clean": all(tally.clean for tally in tallies),
        "targets": [tally.summary() for tally in tallies],
        "findings": findings,
    }


def _print_findings(findings: list[dict[str, Any]]) -> None:
    for finding in findings:
        print(
            f"\nFINDING {finding['target']} ({finding['area']}): {finding['signature']} (x{finding['count']})"
        )
        print(json.dumps(finding["example"], indent=2, default=str)[:3000])


def _tallies(counts: dict[str, int], sources: Mapping[str, SourceConfig]) -> list[Tally]:
    chosen = {name: config for name, config in sources.items() if not ONLY or name in ONLY}
    tallies = []
    if chosen:
        migrate(state_engine(Settings(), "owner"))
        engine = state_engine(Settings(), "serve")  # as `cdc-sync serve` makes it
        tallies += webhook_tallies(engine, chosen, counts)
    return tallies + decoder_tallies(counts, [name for name in DECODER_SHARES if not ONLY or name in ONLY])


def main() -> None:
    sources = load_config(Settings().config).sources
    counts = budgets(BUDGET, list(sources))
    started = time.monotonic()
    tallies = _tallies(counts, sources)
    results = report(tallies, time.monotonic() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    _print_findings(results["findings"])
    print()
    print(table(results["targets"]))
    print(f"seed {SEED}, {results['seconds']:,} s, {len(results['findings'])} findings; written to {RESULTS}")
    sys.exit(0 if results["clean"] else 1)


if __name__ == "__main__":
    main()
