"""The call center's operator side on the CRM (SQL at the edge): its two review queues — agents
with no CRM user (their calls wait for one) and calls matched to one of several contacts — the
agent sync (maps by e-mail what it can, queues the rest), renewed recording links, and repairs
from the call center's detail into the inbox. Each decision is one transaction with its audit row."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, Engine, text

from cdc_sync.errors import ConfigError
from cdc_sync.events import entity_name
from cdc_sync.inbound.sources import parse
from cdc_sync.store import inbox
from cdc_sync.store.audit import audit_in
from cdc_sync.vendors.callcenter.links import RecordingLink
from cdc_sync.vendors.callcenter.webhooks import SOURCE

UNMAPPED = text(
    "SELECT a.ext_agent_id, a.name, a.synced_at, count(c.id) AS waiting_calls "
    "FROM call_agents a LEFT JOIN calls c ON c.ext_agent_id = a.ext_agent_id AND c.agent_id IS NULL "
    "WHERE a.user_id IS NULL GROUP BY a.ext_agent_id ORDER BY waiting_calls DESC, a.ext_agent_id"
)
AMBIGUOUS = text(
    "SELECT c.id, c.ext_call_id, c.started_at, c.caller_phone_e164, c.callee_phone_e164, c.direction, "
    "c.contact_id, c.ext_agent_id FROM calls c WHERE c.ambiguous_match ORDER BY c.started_at DESC, c.id DESC"
)
USER = text("SELECT id FROM users WHERE id::text = :u OR lower(email) = lower(:u)")
MAP_AGENT = text("UPDATE call_agents SET user_id = :user WHERE ext_agent_id = :agent AND user_id IS NULL")
COMPLETE_CALLS = text("UPDATE calls SET agent_id = :user WHERE ext_agent_id = :agent AND agent_id IS NULL")
UPSERT_AGENT = text(
    "INSERT INTO call_agents (ext_agent_id, name, user_id, synced_at) VALUES (:agent, :name, :user, now()) "
    "ON CONFLICT (ext_agent_id) DO UPDATE SET name = EXCLUDED.name, synced_at = now(), "
    "user_id = coalesce(call_agents.user_id, EXCLUDED.user_id) RETURNING user_id"
)
USERS_BY_EMAIL = text("SELECT lower(email) AS email, id FROM users")
CALL = text("SELECT id, ext_call_id, contact_id, ambiguous_match FROM calls WHERE id = :call FOR UPDATE")
SETTLE_CALL = text("UPDATE calls SET contact_id = :contact, ambiguous_match = false WHERE id = :call")
MOVE_TIMELINE = text(
    "UPDATE activities SET contact_id = :contact WHERE kind = 'call' AND details->>'call' = :ext_call_id"
)
RECORDING = text(
    "SELECT id, ext_call_id, has_recording, recording_signed_url, recording_url_expires_at FROM calls "
    "WHERE id = :call"
)
STORE_LINK = text(
    "UPDATE calls SET recording_signed_url = :url, recording_url_expires_at = :expires, "
    "recording_sha256 = :sha WHERE id = :call"
)
RECENT = text(
    "SELECT * FROM calls WHERE coalesce(last_event_at, created_at) >= :since "
    "AND (CAST(:calls AS text[]) IS NULL OR ext_call_id = ANY(CAST(:calls AS text[]))) "
    "ORDER BY id DESC LIMIT :limit"
)
CLOSE_REVIEW = text(
    "UPDATE tasks SET status = 'done' WHERE related_type = 'call' AND related_id = :call AND status = 'open'"
)


def unmapped_agents(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(UNMAPPED).mappings()]


def ambiguous_calls(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(AMBIGUOUS).mappings()]


def map_agent(engine: Engine, ext_agent_id: str, user: str, actor: str) -> int:
    """Map a queued agent to a CRM user (id or e-mail) and give its waiting calls that user.
    Returns how many calls it completed."""
    with engine.begin() as conn:
        user_id = conn.execute(USER, {"u": user}).scalar()
        if user_id is None:
            raise ConfigError(f"no CRM user {user!r} (give an id or an e-mail)")
        return _map(conn, ext_agent_id, int(user_id), actor)


def _map(conn: Connection, ext_agent_id: str, user_id: int, actor: str) -> int:
    if conn.execute(MAP_AGENT, {"user": user_id, "agent": ext_agent_id}).rowcount != 1:
        raise ConfigError(f"agent {ext_agent_id!r} is not waiting for a mapping (`cdc-sync agents unmapped`)")
    completed: int = conn.execute(COMPLETE_CALLS, {"user": user_id, "agent": ext_agent_id}).rowcount
    entity = entity_name("call_agents", [ext_agent_id])
    audit_in(conn, actor, "agent.map", entity, {"user_id": None}, {"user_id": user_id}, {"calls": completed})
    return completed


def sync_agents(engine: Engine, agents: Iterable[Mapping[str, Any]], actor: str) -> dict[str, int]:
    """The vendor's agent list into `call_agents`: an agent whose e-mail is one CRM user's is mapped
    (and its waiting calls completed); the others wait in the queue. A mapping is never replaced."""
    counts = {"agents": 0, "mapped": 0, "unmapped": 0}
    with engine.begin() as conn:
        users = {row.email: int(row.id) for row in conn.execute(USERS_BY_EMAIL)}
        for agent in agents:
            user_id = users.get(str(agent.get("email") or "").strip().lower())
            params = {"agent": str(agent["agent_id"]), "name": agent.get("name"), "user": user_id}
            mapped = conn.execute(UPSERT_AGENT, params).scalar()
            if mapped is not None:
                conn.execute(COMPLETE_CALLS, {"user": mapped, "agent": params["agent"]})
            counts["agents"] += 1
            counts["mapped" if mapped is not None else "unmapped"] += 1
        audit_in(conn, actor, "agents.sync", "call_agents", {}, counts, {})
    return counts


def settle_call(engine: Engine, call_id: int, contact_id: int | None, actor: str) -> int:
    """Confirm an ambiguous match (or move the call, and its timeline entry, to `contact_id`);
    the review task closes. Returns the contact the call is on."""
    with engine.begin() as conn:
        call = conn.execute(CALL, {"call": call_id}).mappings().one_or_none()
        if call is None or not call["ambiguous_match"]:
            raise ConfigError(f"call {call_id} is not waiting for review (`cdc-sync calls review`)")
        chosen = call["contact_id"] if contact_id is None else contact_id
        conn.execute(SETTLE_CALL, {"contact": chosen, "call": call_id})
        conn.execute(MOVE_TIMELINE, {"contact": chosen, "ext_call_id": call["ext_call_id"]})
        conn.execute(CLOSE_REVIEW, {"call": str(call_id)})
        before, after = {"contact_id": call["contact_id"]}, {"contact_id": chosen}
        audit_in(conn, actor, "call.review", entity_name("calls", [call_id]), before, after, {})
    return int(chosen)


def recording_of(engine: Engine, call_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        call = conn.execute(RECORDING, {"call": call_id}).mappings().one_or_none()
    if call is None or not call["has_recording"]:
        raise ConfigError(f"call {call_id} has no recording")
    return dict(call)


def store_link(engine: Engine, call_id: int, link: RecordingLink, actor: str) -> None:
    """The renewed link, audited by host and expiry (the signed link itself is a credential)."""
    with engine.begin() as conn:
        conn.execute(
            STORE_LINK, {"url": link.url, "expires": link.expires_at, "sha": link.sha256, "call": call_id}
        )
        after = {"host": urlsplit(link.url).hostname, "expires_at": link.expires_at.isoformat()}
        audit_in(
            conn,
            actor,
            "call.recording",
            entity_name("calls", [call_id]),
            None,
            after,
            {"sha256": link.sha256},
        )


def recent_calls(
    engine: Engine, since: datetime, limit: int, calls: list[str] | None = None
) -> list[dict[str, Any]]:
    """The newest calls heard of since `since` (only `calls`, by ext_call_id, when given)."""
    params = {"since": since, "limit": limit, "calls": calls or None}
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(RECENT, params).mappings()]


def repair(engine: Engine, hooks: list[dict[str, Any]], actor: str) -> int:
    """The call center's detail into the inbox as its events: the writer merges them like any
    webhook (authority, order-free merge, audit). Returns how many were new."""
    if not hooks:
        return 0
    events = [parse(SOURCE, "application/json", orjson.dumps(hook)) for hook in hooks]
    stored = inbox.put_many(engine, events)
    with engine.begin() as conn:
        audit_in(
            conn,
            actor,
            "calls.reconcile",
            "calls",
            None,
            {"queued": len(stored)},
            {"calls": [e.entity for e in events]},
        )
    return len(stored)
