"""The three data-subject requests, each one composition: find the person (CRM row, vendor ids) →
refuse while their changes are in flight → each destination's `SubjectRights` → cdc-sync's own
tables → audit (outcomes only). No vendor is named here: the registry gives each kind's calls."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine

from cdc_sync.errors import CdcSyncError, ChangeInFlight, ConfigError
from cdc_sync.mapping.normalize import email_key
from cdc_sync.model.config import DestinationConfig, Owner
from cdc_sync.observability.logs import REDACTOR
from cdc_sync.privacy.requests import (
    OWN_TABLES,
    Outcome,
    assignments,
    check_correction,
    entity_of,
    is_finished,
    outcomes,
    refusal,
    step,
    steps_left,
)
from cdc_sync.repair.readers import VendorApi
from cdc_sync.store import privacy as store
from cdc_sync.store.privacy import Traces
from cdc_sync.vendors.plugin import Subject
from cdc_sync.vendors.registry import destination_kind

NO_CALLS = "the vendor plugin has no data-subject calls: ask the receiver to export or erase"


@dataclass(frozen=True)
class PrivacyContext:
    engine: Engine  # cdc-sync's state, in the CRM database
    destinations: Mapping[str, DestinationConfig]
    authority: Mapping[str, Owner]
    actor: str
    transport: httpx.AsyncBaseTransport | None = None  # tests: httpx.MockTransport


@dataclass(frozen=True)
class Person:
    traces: Traces
    crm: dict[str, Any] | None  # the CRM contact row, when it still exists


def find_person(ctx: PrivacyContext, contact_id: int, email: str | None = None) -> Person:
    """The contact, by the CRM row; `email` stands in for a row the CRM owner already deleted."""
    crm = store.crm_contact(ctx.engine, contact_id)
    address = (crm or {}).get("email") or email
    if crm is None and email is None:
        raise ConfigError(f"{entity_of(contact_id)} is not in the CRM: give its e-mail with --email")
    return Person(Traces(contact_id, email_key(address) if address else None), crm)


def _subject(ctx: PrivacyContext, person: Person, config: DestinationConfig) -> Subject:
    refs = store.refs_of(ctx.engine, person.traces.entities[0], config.system) if config.system else ()
    return Subject(person.traces.contact_id, person.traces.address, refs)


async def _vendor(ctx: PrivacyContext, name: str, person: Person, call: str) -> tuple[dict[str, Any], Any]:
    """One destination's `export` or `erase`: (its step outcome, what it answered)."""
    config = ctx.destinations[name]
    rights = destination_kind(config.kind).subject_rights
    method = None if rights is None else getattr(rights, call)
    if method is None:
        return step("not_supported", (rights.unsupported if rights else "") or NO_CALLS), None
    api = VendorApi(name, config, ctx.transport)
    try:
        answer = await method(api, config, _subject(ctx, person, config))
    except CdcSyncError as exc:  # the vendor's refusals and failures, already translated
        return step("failed", REDACTOR.redact(str(exc))), None
    finally:
        await api.aclose()
    done: Outcome = "exported" if call == "export" else "erased"
    return step(done if answer else "absent"), answer


def _refuse_in_flight(ctx: PrivacyContext, person: Person, kind: str) -> None:
    reason = refusal(person.traces.entities[0], store.in_flight(ctx.engine, person.traces, kind))
    if reason:
        raise ChangeInFlight(reason)


def export(ctx: PrivacyContext, contact_id: int, email: str | None = None) -> dict[str, Any]:
    """Everything held about the contact: the CRM row, cdc-sync's rows, each destination's copy."""
    person = find_person(ctx, contact_id, email)
    vendors: dict[str, Any] = {}
    for name in ctx.destinations:
        outcome, records = asyncio.run(_vendor(ctx, name, person, "export"))
        vendors[name] = {**outcome, "records": records}
    ours = store.held_rows(ctx.engine, person.traces)
    entity = person.traces.entities[0]
    details = {"vendors": outcomes(vendors), "rows": {table: len(rows) for table, rows in ours.items()}}
    with ctx.engine.begin() as conn:
        store.audit_request(conn, ctx.actor, "export", entity, details)
    return {"subject": entity, "crm": person.crm, "cdc_sync": ours, "vendors": vendors}


def erase(ctx: PrivacyContext, contact_id: int, email: str | None = None) -> dict[str, Any]:
    """Erase the contact at every destination, then in cdc-sync's tables; resumable: a re-run
    continues the request's unfinished steps. The CRM row is the CRM owner's to erase."""
    person = find_person(ctx, contact_id, email)
    _refuse_in_flight(ctx, person, "erase")
    entity = person.traces.entities[0]
    request = store.open_request(ctx.engine, "erase", entity, ctx.actor)
    planned, steps = [*ctx.destinations, OWN_TABLES], dict(request.steps)
    for name in steps_left(planned, steps):
        if name != OWN_TABLES:
            steps[name] = asyncio.run(_vendor(ctx, name, person, "erase"))[0]
            with ctx.engine.begin() as conn:
                store.record_step(conn, request.id, steps)
        elif not any(found["outcome"] == "failed" for found in steps.values()):
            # Last, and only once every vendor is done: a re-run needs the vendor ids kept here.
            steps[name] = _erase_own(ctx, person, request.id, steps)
    return _close_erasure(ctx, person, request.id, planned, steps)


def _erase_own(ctx: PrivacyContext, person: Person, request: int, steps: dict[str, Any]) -> dict[str, Any]:
    with ctx.engine.begin() as conn:
        rows = store.erase_rows(conn, person.traces)
        done = {**step("erased"), "rows": rows}
        store.record_step(conn, request, {**steps, OWN_TABLES: done})
    return done


def _close_erasure(
    ctx: PrivacyContext, person: Person, request: int, planned: list[str], steps: dict[str, Any]
) -> dict[str, Any]:
    finished, entity = is_finished(planned, steps), person.traces.entities[0]
    quoting = store.audit_rows_quoting(ctx.engine, person.traces)
    details = {
        "request": request,
        "steps": outcomes(steps),
        "finished": finished,
        "audit_rows_quoting": quoting,
    }
    with ctx.engine.begin() as conn:
        if finished:
            store.finish(conn, request)
        store.audit_request(conn, ctx.actor, "erase", entity, details)
    return {
        "subject": entity,
        "request": request,
        "finished": finished,
        "steps": steps,
        "audit_rows_quoting": quoting,
    }


def correct(ctx: PrivacyContext, contact_id: int, pairs: list[str]) -> dict[str, Any]:
    """Rectify the contact's personal data in the CRM; the outbound path delivers it like any CRM
    change (Debezium → every destination whose fields changed). One transaction with its audit."""
    values = assignments(pairs)
    check_correction(values, ctx.authority)
    person = find_person(ctx, contact_id)
    if person.crm is None:
        raise ConfigError(f"{entity_of(contact_id)} is not in the CRM")
    _refuse_in_flight(ctx, person, "correct")
    entity, fields = person.traces.entities[0], sorted(values)
    vendors = {name: "outbound" for name in ctx.destinations}  # delivered by `cdc-sync run`
    with ctx.engine.begin() as conn:
        store.correct_contact(conn, contact_id, {f: v or None for f, v in values.items()})
        store.audit_request(conn, ctx.actor, "correct", entity, {"fields": fields, "vendors": vendors})
    return {"subject": entity, "fields": fields, "vendors": vendors}
