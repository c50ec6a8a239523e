"""The outbound flow for one change, as one readable composition (pure: no I/O):

    check_contract → for each destination fed by the table:
        suppress echoes → skip contacts outside its rollout → keep the fields the CRM owns
        (and corrections in scope of fields the destination owns) → map to the vendor's request

Decoding happens before (it needs the registry) and delivery after (it needs the network).
The destinations of one event share its normalized values (`NormalizedFields`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cdc_sync.config import AppConfig, DestinationConfig, Owner
from cdc_sync.errors import ConfigError, ContractViolation, RejectedEvent
from cdc_sync.events import ChangeEvent, Row
from cdc_sync.mapping.normalized import NormalizedFields
from cdc_sync.mapping.routes import MapInput, Mapped, TableMapper
from cdc_sync.model.delivery import Delivery
from cdc_sync.model.lookups import Lookups
from cdc_sync.outbound.loop_guard import is_echo
from cdc_sync.rules.authority import correctable, corrected_fields, outbound_fields
from cdc_sync.rules.rollout import WHOLE, in_share, rollout_key
from cdc_sync.vendors.registry import destination_kind

Rules = tuple[tuple[str, Owner], ...]  # the authority table, hashable


@dataclass(frozen=True)
class Route:
    destination: str
    config: DestinationConfig
    mapper: TableMapper
    # Fields of the table this destination's system owns that the CRM may correct → reasons.
    corrections: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    """A dead letter to write: for the whole event (destination None) or one destination."""

    reason: str
    destination: str | None = None
    contract: bool = False


@dataclass
class EventPlan:
    deliveries: list[Delivery] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    echoes: list[str] = field(default_factory=list)
    outside_rollout: list[str] = field(default_factory=list)
    unknown_enums: list[str] = field(default_factory=list)
    rejected_tags: list[tuple[str, str]] = field(default_factory=list)


def build_routes(config: AppConfig) -> dict[str, list[Route]]:
    """Table → the destinations it feeds, each with its mapper; unknown pairs are config errors."""
    routes: dict[str, list[Route]] = {}
    for name, destination in config.destinations.items():
        for table in destination.tables:
            scope = correctable(config.authority, config.corrections, table, destination.system)
            route = Route(name, destination, _mapper(name, destination, table), scope)
            routes.setdefault(table, []).append(route)
    return routes


def _mapper(name: str, destination: DestinationConfig, table: str) -> TableMapper:
    vendor = destination_kind(destination.kind)
    mapper = vendor.mapper_for(table)
    if mapper is None:
        supported = ", ".join(vendor.mappers)
        raise ConfigError(f"destination {name} ({destination.kind}) cannot take {table}; it maps {supported}")
    return mapper


def plan_event(
    event: ChangeEvent,
    routes: Mapping[str, list[Route]],
    check_contract: Callable[[ChangeEvent], Any],
    authority: Mapping[str, Owner],
    lookups: Lookups,
    shares: Mapping[str, float] | None = None,
) -> EventPlan:
    """`shares`: each destination's rollout share (absent: all contacts)."""
    plan = EventPlan()
    table_routes = routes.get(event.table, [])
    if not table_routes:
        return plan
    try:
        check_contract(event)
    except ContractViolation as exc:
        plan.rejections.append(Rejection(str(exc), contract=True))
        return plan
    except Exception as exc:  # the check itself broke on this change (e.g. a value of no known type)
        reason = f"contract check failed: {type(exc).__name__}: {exc}"
        plan.rejections.append(Rejection(reason, contract=True))
        return plan
    rules, normalized = tuple(authority.items()), NormalizedFields()
    for route in table_routes:
        if is_echo(event, route.config.system):
            plan.echoes.append(route.destination)
            continue
        share = (shares or {}).get(route.destination, WHOLE)
        if share < WHOLE and not in_share(rollout_key(event.table, event.row, event.entity), share):
            plan.outside_rollout.append(route.destination)
            continue
        _map_for(route, _input(event, route, rules, lookups, normalized), plan)
    return plan


def _input(
    event: ChangeEvent, route: Route, rules: Rules, lookups: Lookups, normalized: NormalizedFields
) -> MapInput:
    after = _outbound(rules, event.table, event.after, route.config.system)
    before = _outbound(rules, event.table, event.before, route.config.system)
    corrected = corrected_fields(route.corrections, event.before, event.after)
    if corrected and after is not None:
        after = {**after, **corrected}
    return MapInput(event, after, before, lookups, route.destination, route.config, normalized)


def _outbound(rules: Rules, table: str, image: Row | None, system: str) -> Row | None:
    """`outbound_fields` of the image, deciding per field once per schema rather than per event."""
    if image is None:
        return None
    kept = _outbound_names(rules, table, tuple(image), system)
    return {name: value for name, value in image.items() if name in kept}


@lru_cache(maxsize=1_024)
def _outbound_names(rules: Rules, table: str, names: tuple[str, ...], system: str) -> frozenset[str]:
    return frozenset(outbound_fields(dict(rules), table, dict.fromkeys(names), system))


def _map_for(route: Route, item: MapInput, plan: EventPlan) -> None:
    try:
        mapped: Mapped = route.mapper(item)
    except RejectedEvent as exc:
        plan.rejections.append(Rejection(str(exc), route.destination))
        return
    except Exception as exc:  # a mapper that breaks on this change: its letter, not a stopped stream
        plan.rejections.append(Rejection(f"mapping failed: {type(exc).__name__}: {exc}", route.destination))
        return
    plan.deliveries.extend(mapped.deliveries)
    plan.unknown_enums.extend(mapped.unknown_enums)
    plan.rejected_tags.extend((route.destination, tag) for tag in mapped.rejected_tags)


def lookup_ids(events: list[ChangeEvent], routes: Mapping[str, list[Route]]) -> tuple[set[int], set[int]]:
    """Contact and tag ids the batch's mappers will ask for."""
    contacts: set[int] = set()
    tags: set[int] = set()
    for event in events:
        if event.table not in routes or event.row.get("contact_id") is None:
            continue  # a row about no contact (a dial task for a bare number) needs no lookup
        contacts.add(int(event.row["contact_id"]))
        if event.row.get("tag_id") is not None:
            tags.add(int(event.row["tag_id"]))
    return contacts, tags
