"""The faults an outbound scenario suffers, each a function of the running scenario."""

import random
import time

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.chaos import stack
from bench.chaos.outbound import Fault, Run
from bench.chaos.proxy import Proxy
from bench.processes import SANDBOX_PORTS

ACK_WAIT_S = 150.0  # a restarted consumer may wait out the dead member's session (45 s) first
VENDOR_PORTS = SANDBOX_PORTS[:2]  # marketing, helpdesk
UNKNOWN_SCHEMA_ID = 2**31 - 7


def _next_ack(run: Run, timeout_s: float) -> float | None:
    """Seconds until the ledger gains an acknowledgement, None if none comes in `timeout_s`."""
    began, rows = time.monotonic(), run.acked_rows()
    while time.monotonic() - began < timeout_s:
        time.sleep(0.25)
        if run.acked_rows() > rows:
            return round(time.monotonic() - began, 1)
        if run.sync.exited():
            return None
    return None


def kill_run(kills: int, seed: int = 11) -> Fault:
    """kill -9 of `cdc-sync run` while it delivers, `kills` times; each restart at once."""

    def fault(run: Run) -> None:
        rng, firsts = random.Random(seed), []
        for n in range(kills):
            if _next_ack(run, ACK_WAIT_S) is None:
                run.notes.append(f"no delivery under way before kill {n + 1}; stopped killing")
                break
            time.sleep(rng.uniform(0.2, 2.0))
            run.sync.kill9()
            run.sync.start()
            if n == kills - 1:
                run.fault_ended()  # recovery counts from the last restart, the group's rejoin included
            firsts.append(_next_ack(run, ACK_WAIT_S))
        if not run.ended_at:
            run.fault_ended()
        run.figures.update(kills=run.sync.kills, restart_to_first_ack_s=firsts)

    return fault


def restart_part(part: stack.Part, lead_s: float) -> Fault:
    """The part stopped and started again mid-stream; writes wait while the CRM itself is down."""

    def fault(run: Run) -> None:
        time.sleep(lead_s)
        if part == "postgres":
            with run.stream.held():
                down = stack.restart(part)
        else:
            down = stack.restart(part)
        connector = stack.wait_connector(120)
        if connector is None:
            run.notes.append(f"connector not RUNNING after the {part} restart: {stack.connector_states()}")
            run.needs_human.append("restart the connector's failed task")
            stack.restart_failed_tasks()
        run.fault_ended()
        run.figures.update(part_down_s=round(down, 1), connector_running_after_s=connector)

    return fault


def _faults(body: dict[str, object]) -> None:
    for port in VENDOR_PORTS:
        httpx.put(f"http://127.0.0.1:{port}/_sandbox/faults", json=body, timeout=10).raise_for_status()


def vendor_outage(proxy: Proxy, lead_s: float, outage_s: float) -> Fault:
    """Both vendors answer 503 for half the outage, then refuse connections for the other half."""

    def fault(run: Run) -> None:
        time.sleep(lead_s)
        _faults({"error_rate": 1.0, "error_status": 503})
        time.sleep(outage_s / 2)
        _faults({})
        proxy.refuse()
        time.sleep(outage_s / 2)
        proxy.accept()
        run.fault_ended()
        run.figures.update(outage_s=outage_s, phases="503 then connection refused")

    return fault


def _sample_record(bootstrap: str, topic: str, run: Run) -> tuple[bytes | None, bytes]:
    """A real record of the topic (a seeded contact, just before the window) to spoil."""
    starts = {p: o for (t, p), o in run.phase.window.starts.items() if t == topic and o > 0}
    partition, offset = next(iter(starts.items()))
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "chaos-sample", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset - 1)])
        message = consumer.poll(10)
        assert message is not None and message.value(), f"no record at {topic}/{partition}@{offset - 1}"
        return message.key(), bytes(message.value() or b"")
    finally:
        consumer.close()


def spoiled(value: bytes) -> dict[str, bytes]:
    """A Confluent-framed Avro value spoiled three ways."""
    return {
        "unknown_schema_id": b"\x00" + UNKNOWN_SCHEMA_ID.to_bytes(4, "big") + value[5:],
        "bad_magic_byte": b"\x07" + value[1:],
        "truncated_avro": value[: max(6, len(value) // 2)],
    }


def poison(lead_s: float, rounds: int, every_s: float) -> Fault:
    """`rounds` times, one record of each spoiled kind produced straight into the contacts topic."""

    def fault(run: Run) -> None:
        bootstrap = run.rig.settings.kafka_bootstrap
        topic = f"{run.rig.settings.topic_prefix}.public.contacts"
        time.sleep(lead_s)
        key, value = _sample_record(bootstrap, topic, run)
        producer = Producer({"bootstrap.servers": bootstrap})
        for _ in range(rounds):
            for bad in spoiled(value).values():
                producer.produce(topic, key=key, value=bad)
            producer.flush(10)
            time.sleep(every_s)
        run.extra_records = rounds * len(spoiled(value))
        run.fault_ended()
        run.figures.update(poison_produced={kind: rounds for kind in spoiled(value)})

    return fault
