"""Mailchimp in bulk, only where it is consent-safe (the batch subscribe endpoint has no
`status_if_new`, and with `update_existing: true` it changes existing members' status):

- `members.new` — new members as `transactional`, `update_existing: false`: an existing member
  comes back as an error and is never touched; an upsert then falls back to its own per-member
  `PUT … status_if_new`, a member ensure is already satisfied.
- `members.status` — subscription changes that already passed the consent rules, with
  `update_existing: true` (Mailchimp itself still refuses re-subscribing an unsubscribed member).
- `segment:<tag>` — tags are static segments: `members_to_add` / `members_to_remove` of one
  segment (≤ 500 each); no member's status changes, and emails not on the list are refused.

Master-data updates of existing members are never batched: they keep the per-member PUT.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from cdc_sync.delivery.destinations import VendorCalls
from cdc_sync.mapping.normalize import email_key
from cdc_sync.model.delivery import Delivery, Outcome
from cdc_sync.vendors.batch_items import accepted, batch_key, everyone, item_keys, missing, refused

NEW_MEMBERS = "members.new"
STATUS_CHANGES = "members.status"
SEGMENT = "segment:"
MAX_MEMBERS = 500
EXISTS = "ERROR_CONTACT_EXISTS"
# Operations whose goal an existing member already meets (the tag that follows needs only that).
SATISFIED_BY_EXISTING = frozenset({"member.ensure"})
UPDATE_EXISTING = {NEW_MEMBERS: False, STATUS_CHANGES: True}


def _email(delivery: Delivery) -> str:
    form = delivery.request.batch
    return email_key(form.item.get("email_address")) if form else ""


def _errors_by_email(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    errors: dict[str, dict[str, Any]] = {}
    for error in body.get("errors") or []:
        addresses = error.get("email_addresses") or [error.get("email_address")]
        for address in addresses:
            if address:
                errors[email_key(address)] = error
    return errors


def _answered(body: dict[str, Any], *parts: str) -> set[str]:
    return {email_key(member.get("email_address")) for part in parts for member in body.get(part) or []}


def member_outcomes(
    body: dict[str, Any], batch: Sequence[Delivery], latency_s: float
) -> list[Outcome | None]:
    """Per delivery of a batch subscribe: its outcome, or None where it must be sent alone."""
    done = _answered(body, "new_members", "updated_members")
    errors = _errors_by_email(body)
    outcomes: list[Outcome | None] = []
    for delivery in batch:
        email, error = _email(delivery), errors.get(_email(delivery))
        if email in done:
            outcomes.append(Outcome(200, latency_s))
        elif error is None:
            outcomes.append(missing(latency_s))
        elif error.get("error_code") != EXISTS:
            outcomes.append(refused(latency_s, f"{error.get('error_code') or ''} {error.get('error')}"))
        else:
            outcomes.append(Outcome(200, latency_s) if delivery.operation in SATISFIED_BY_EXISTING else None)
    return outcomes


def segment_outcomes(body: dict[str, Any], batch: Sequence[Delivery], latency_s: float) -> list[Outcome]:
    """Per delivery of a segment update; removing a tag from a member not on the list is no error."""
    errors = _errors_by_email(body)
    outcomes = []
    for delivery in batch:
        error = errors.get(_email(delivery))
        if error is None or delivery.request.not_found_ok:
            outcomes.append(Outcome(200, latency_s))
        else:
            outcomes.append(refused(latency_s, str(error.get("error"))))
    return outcomes


def _removing(delivery: Delivery) -> bool:
    form = delivery.request.batch
    return form is not None and form.item.get("status") == "inactive"


def segment_body(batch: Sequence[Delivery]) -> tuple[dict[str, list[str]], list[Delivery]]:
    """The segment update and the deliveries in the order its items appear (adds, then removes)."""
    adds = [delivery for delivery in batch if not _removing(delivery)]
    removes = [delivery for delivery in batch if _removing(delivery)]
    body = {"members_to_add": [_email(d) for d in adds], "members_to_remove": [_email(d) for d in removes]}
    return body, adds + removes


class MailchimpBatch:
    """The list's batch subscribe and static-segment calls; segment ids looked up once by name."""

    def __init__(self, list_id: str) -> None:
        self._lists = f"/3.0/lists/{list_id}"
        self._segments: dict[str, int] = {}
        self._looking_up = asyncio.Lock()  # two batches of a new tag must not make two segments

    def limit(self, group: str) -> int:
        return MAX_MEMBERS

    async def send(self, vendor: VendorCalls, group: str, batch: Sequence[Delivery]) -> list[Outcome]:
        if group.startswith(SEGMENT):
            return await self._segment(vendor, group.removeprefix(SEGMENT), batch)
        return await self._members(vendor, group, batch)

    async def _members(self, vendor: VendorCalls, group: str, batch: Sequence[Delivery]) -> list[Outcome]:
        started = time.perf_counter()
        members = [delivery.request.batch.item for delivery in batch if delivery.request.batch]
        body = {"members": members, "update_existing": UPDATE_EXISTING[group]}
        answer = await vendor.call("POST", self._lists, body, batch_key(batch), item_keys(batch))
        if not accepted(answer):
            return everyone(answer, len(batch))
        outcomes = member_outcomes(answer.json, batch, time.perf_counter() - started)
        return [
            outcome if outcome is not None else await vendor.send_alone(delivery)
            for delivery, outcome in zip(batch, outcomes, strict=True)
        ]

    async def _segment(self, vendor: VendorCalls, tag: str, batch: Sequence[Delivery]) -> list[Outcome]:
        started = time.perf_counter()
        async with self._looking_up:
            segment = self._segments.get(tag) or await self._segment_id(vendor, tag, batch)
        if isinstance(segment, Outcome):
            return [segment] * len(batch)
        body, ordered = segment_body(batch)
        path = f"{self._lists}/segments/{segment}"
        answer = await vendor.call("POST", path, body, batch_key(ordered), item_keys(ordered))
        if answer.outcome.status == 404:
            self._segments.pop(tag, None)  # deleted at the vendor: looked up (or made) again next time
        if not accepted(answer):
            return everyone(answer, len(batch))
        by_key = dict(
            zip(
                (d.idempotency_key for d in ordered),
                segment_outcomes(answer.json, ordered, time.perf_counter() - started),
                strict=True,
            )
        )
        return [by_key[delivery.idempotency_key] for delivery in batch]

    async def _segment_id(self, vendor: VendorCalls, tag: str, batch: Sequence[Delivery]) -> int | Outcome:
        """The static segment named `tag`, created when the list has none (the outcome on failure)."""
        offset, key = 0, batch_key(batch, ":segments")
        while True:
            query = f"{self._lists}/segments?type=static&count=1000&offset={offset}"
            answer = await vendor.call("GET", query, None, key)
            if not accepted(answer):
                return everyone(answer, 1)[0]
            segments = answer.json.get("segments") or []
            self._segments.update({str(s["name"]): int(s["id"]) for s in segments if "id" in s})
            offset += len(segments)
            if tag in self._segments or not segments or offset >= int(answer.json.get("total_items") or 0):
                break
        return self._segments[tag] if tag in self._segments else await self._create(vendor, tag, key)

    async def _create(self, vendor: VendorCalls, tag: str, key: str) -> int | Outcome:
        body = {"name": tag, "static_segment": []}
        answer = await vendor.call("POST", f"{self._lists}/segments", body, f"{key}:create")
        if not accepted(answer) or "id" not in answer.json:
            return everyone(answer, 1)[0]
        self._segments[tag] = int(answer.json["id"])
        return self._segments[tag]
