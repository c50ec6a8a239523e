"""`destinations rollout NAME SHARE`: widen a gray release and sync the contacts it brings in.

    check (widen only) → set the share, audited → wait for running `run`s to follow it
    → contacts newly in the share → push their current rows (the reconciler's push)

The share is set before the CRM rows are read, and running consumers follow it within
`FOLLOW_S`: a change they skip under the old share was committed before the rows are read, so
the push carries it; every later change is delivered live. A push cut short (kill -9) is
completed by `reconcile NAME --fix`, which compares exactly the share in force.
"""

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine

from cdc_sync.config import AppConfig
from cdc_sync.errors import ConfigError
from cdc_sync.repair.reconciler import Progress, Reconciler
from cdc_sync.rules.rollout import contacts_added
from cdc_sync.store import crm_keys, destinations
from cdc_sync.store.audit import audit


@dataclass(frozen=True)
class RolloutReport:
    before: float
    after: float
    added: int  # contacts the widening brought in
    not_delivered: int  # objects of theirs dead-lettered or held (a paused destination)


@dataclass(frozen=True)
class RolloutRequest:
    name: str
    share: float
    actor: str
    topic_prefix: str


async def widen(
    engine: Engine, config: AppConfig, request: RolloutRequest, progress: Progress
) -> RolloutReport:
    name, share = request.name, request.share
    config.require_destinations([name])
    before = (await asyncio.to_thread(destinations.rollout_shares, engine, config.destinations))[name]
    if share < before:
        raise ConfigError(
            f"{name} is rolled out to {before:g}; a rollout only widens "
            "(contacts already synced would silently go stale): pause the destination instead"
        )
    await asyncio.to_thread(destinations.set_rollout, engine, name, share)
    await asyncio.to_thread(
        audit, engine, request.actor, "destination.rollout", f"destination:{name}", before, share
    )
    await asyncio.sleep(2 * destinations.FOLLOW_S)
    added = contacts_added(await asyncio.to_thread(crm_keys.contact_ids, engine), before, share)
    reconciler = Reconciler(engine, config, request.topic_prefix, progress=progress)
    failed = await reconciler.push(name, added) if added else 0
    return RolloutReport(before, share, len(added), failed)
