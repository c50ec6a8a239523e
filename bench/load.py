"""The change load a CRM's users send, written with set-based SQL so the writer is never the limit.

Mix (of CRM row changes): 50% new contacts, 25% updates of existing contacts, 5% contact
deletes, 10% tag adds and 5% tag removals (contact_tags), 5% subscription changes
(subscriptions: sign-up, unsubscribe, re-subscribe with new consent). A phase first seeds
contacts (not part of its window) that updates, tags and subscriptions act on; deletes take
contacts inserted by the phase itself (never tagged or subscribed, so no cascade adds rows),
and tag removals take tags the phase added, so every change has an effect at the vendor.
"""

import itertools
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text

Kind = str
MIX: dict[Kind, float] = {
    "insert": 0.50,
    "update": 0.25,
    "delete": 0.05,
    "tag_add": 0.10,
    "tag_remove": 0.05,
    "subscription": 0.05,
}
# The mix as one cycle of 20 changes, ordered so a delete or tag removal always follows an
# insert or tag add it can act on, also in ticks of one or two changes.
CYCLE: tuple[Kind, ...] = (
    *("insert", "update", "insert", "tag_add", "insert", "update", "insert", "delete", "insert", "tag_add"),
    *(
        "update",
        "insert",
        "subscription",
        "insert",
        "update",
        "insert",
        "tag_remove",
        "insert",
        "update",
        "insert",
    ),
)
# Vendor acknowledgements one change of each kind is owed (see cdc_sync/mapping): contacts go to
# both destinations, a delete only archives the Mailchimp member (Zendesk keeps its users), a
# tag add is an ensure-member PUT plus the tag POST.
ACKS: dict[Kind, dict[str, int]] = {
    "insert": {"marketing": 1, "helpdesk": 1},
    "update": {"marketing": 1, "helpdesk": 1},
    "delete": {"marketing": 1},
    "tag_add": {"marketing": 2},
    "tag_remove": {"marketing": 1},
    "subscription": {"marketing": 1},
}
# Row deletes: with tombstones.on.delete Debezium follows each with a tombstone in Kafka.
DELETES: frozenset[Kind] = frozenset({"delete", "tag_remove"})
SEED_CONTACTS = 5000
CONTACT_COLUMNS = "first_name, last_name, email, phone, country, locale, timezone, lifecycle_stage"


def _contact_rows(run: str) -> str:
    return (
        f"INSERT INTO contacts ({CONTACT_COLUMNS}) "
        f"SELECT 'Bench', 'Mark ' || g, '{run}-' || (:base + g) || '@example.com', '+4930123456', 'DE', "
        "'de-DE', 'Europe/Berlin', 'lead' FROM generate_series(1, :n) g RETURNING id"
    )


@dataclass
class MixedLoad:
    """Writes changes in the mix; remembers which rows later changes may act on."""

    run: str
    seeds: list[int]
    tags: list[int]
    position: int = 0
    written: Counter[Kind] = field(default_factory=Counter)
    _live: list[int] = field(default_factory=list)
    _deletable: deque[int] = field(default_factory=deque)
    _tagged: deque[tuple[int, int]] = field(default_factory=deque)
    _inserted: int = 0
    _updated: int = 0
    _pairs: int = 0
    _subscribed: int = 0

    @classmethod
    def seeded(cls, crm: Engine, changes: int) -> "MixedLoad":
        """Seed contacts and enough tags that every tag add is a new (contact, tag) pair."""
        run = f"bench-{uuid.uuid4().hex[:8]}"
        tag_count = max(40, int(changes * MIX["tag_add"]) // SEED_CONTACTS + 2)
        with crm.begin() as conn:
            seeds = list(
                conn.execute(text(_contact_rows(run + "-seed")), {"base": 0, "n": SEED_CONTACTS}).scalars()
            )
            conn.execute(
                text(
                    "INSERT INTO tags (name) SELECT 'bench-tag-' || g FROM generate_series(1, :n) g "
                    "ON CONFLICT DO NOTHING"
                ),
                {"n": tag_count},
            )
            names = [f"bench-tag-{g}" for g in range(1, tag_count + 1)]
            tags = list(
                conn.execute(
                    text("SELECT id FROM tags WHERE name = ANY(:n) ORDER BY id"), {"n": names}
                ).scalars()
            )
        return cls(run, seeds, tags, _live=list(seeds))

    @property
    def seed_records(self) -> int:
        return len(self.seeds)

    @property
    def changes(self) -> int:
        return self.written.total()

    def expected_acks(self) -> dict[str, int]:
        owed: Counter[str] = Counter()
        for kind, count in self.written.items():
            for destination, acks in ACKS[kind].items():
                owed[destination] += acks * count
        return dict(owed)

    def kafka_records(self, tombstones: bool) -> int:
        return self.changes + (sum(self.written[kind] for kind in DELETES) if tombstones else 0)

    def mix(self) -> dict[str, Any]:
        return {"target": MIX, "written": dict(self.written)}

    def write(self, conn: Connection, count: int) -> int:
        """The next `count` changes of the cycle, one statement per kind (in the caller's transaction)."""
        due = Counter(CYCLE[(self.position + i) % len(CYCLE)] for i in range(count))
        self.position += count
        before = self.changes
        self._insert(conn, due["insert"])
        self._update(conn, due["update"])
        self._delete(conn, due["delete"])
        self._tag(conn, due["tag_add"])
        self._untag(conn, due["tag_remove"])
        self._subscribe(conn, due["subscription"])
        return self.changes - before

    def _insert(self, conn: Connection, n: int) -> None:
        if not n:
            return
        ids = list(conn.execute(text(_contact_rows(self.run)), {"base": self._inserted, "n": n}).scalars())
        for id_ in ids:
            # One insert in ten is deleted later (deletes are a tenth of inserts in the mix).
            (self._deletable if self._inserted % 10 == 0 else self._live).append(id_)
            self._inserted += 1
        self.written["insert"] += len(ids)

    def _update(self, conn: Connection, n: int) -> None:
        n = min(n, len(self._live))  # one statement updates a row once
        if not n:
            return
        ids = [self._live[(self._updated + i) % len(self._live)] for i in range(n)]
        self._updated += n
        result = conn.execute(
            text(
                "UPDATE contacts SET last_name = 'Updated ' || version, "
                "lifecycle_stage = (ARRAY['lead', 'prospect', 'customer'])[1 + version % 3] "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        self.written["update"] += result.rowcount

    def _delete(self, conn: Connection, n: int) -> None:
        ids = [self._deletable.popleft() for _ in range(min(n, len(self._deletable)))]
        if ids:
            result = conn.execute(text("DELETE FROM contacts WHERE id = ANY(:ids)"), {"ids": ids})
            self.written["delete"] += result.rowcount

    def _tag(self, conn: Connection, n: int) -> None:
        pairs = [self._pair(self._pairs + i) for i in range(n)]
        self._pairs += n
        if not pairs:
            return
        result = conn.execute(
            text(
                "INSERT INTO contact_tags (contact_id, tag_id) "
                "SELECT * FROM unnest(CAST(:c AS bigint[]), CAST(:t AS bigint[])) ON CONFLICT DO NOTHING"
            ),
            {"c": [c for c, _ in pairs], "t": [t for _, t in pairs]},
        )
        self._tagged.extend(pairs)
        self.written["tag_add"] += result.rowcount

    def _pair(self, index: int) -> tuple[int, int]:
        return self.seeds[index % len(self.seeds)], self.tags[(index // len(self.seeds)) % len(self.tags)]

    def _untag(self, conn: Connection, n: int) -> None:
        pairs = [self._tagged.popleft() for _ in range(min(n, len(self._tagged)))]
        if not pairs:
            return
        result = conn.execute(
            text(
                "DELETE FROM contact_tags WHERE (contact_id, tag_id) IN "
                "(SELECT * FROM unnest(CAST(:c AS bigint[]), CAST(:t AS bigint[])))"
            ),
            {"c": [c for c, _ in pairs], "t": [t for _, t in pairs]},
        )
        self.written["tag_remove"] += result.rowcount

    def _subscribe(self, conn: Connection, n: int) -> None:
        """Round 0 signs seeds up; odd rounds unsubscribe them, even ones re-subscribe with newer consent."""
        n = min(n, len(self.seeds))
        rounds: dict[int, list[int]] = {}
        for i in range(self._subscribed, self._subscribed + n):
            rounds.setdefault(i // len(self.seeds), []).append(self.seeds[i % len(self.seeds)])
        self._subscribed += n
        for round_, ids in rounds.items():
            result = conn.execute(text(_SUBSCRIPTION_SQL[_subscription_step(round_)]), {"ids": ids})
            self.written["subscription"] += result.rowcount


def _subscription_step(round_: int) -> str:
    return "signup" if round_ == 0 else "unsubscribe" if round_ % 2 else "resubscribe"


_SUBSCRIPTION_SQL = {
    "signup": (
        "INSERT INTO subscriptions (contact_id, list_id, status, consent_timestamp, consent_source) "
        "SELECT unnest(CAST(:ids AS bigint[])), 'crm-audience', 'subscribed', clock_timestamp(), "
        "'bench-signup'"
    ),
    "unsubscribe": (
        "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = clock_timestamp() "
        "WHERE contact_id = ANY(:ids)"
    ),
    # clock_timestamp: the new consent must be later than the unsubscribe, even in one transaction.
    "resubscribe": (
        "UPDATE subscriptions SET status = 'subscribed', consent_timestamp = clock_timestamp(), "
        "consent_source = 'bench-resubscribe' WHERE contact_id = ANY(:ids)"
    ),
}


def write_all(crm: Engine, load: MixedLoad, count: int, chunk: int, progress: bool = False) -> float:
    """`count` changes in transactions of `chunk`; returns the seconds it took."""
    started = time.monotonic()
    for done in range(0, count, chunk):
        with crm.begin() as conn:
            load.write(conn, min(chunk, count - done))
        if progress and (done // chunk) % 10 == 9:
            print(f"  written {load.changes:,} / {count:,} changes", flush=True)
    return time.monotonic() - started


@dataclass(frozen=True)
class SteadyWrites:
    target_per_s: float
    seconds: float
    changes: int
    transactions: int
    slowest_tick_ms: float

    @property
    def achieved_per_s(self) -> float:
        return self.changes / self.seconds if self.seconds else 0.0


def _ticks(tick_s: float, seconds: float) -> Iterator[float]:
    start = time.monotonic()
    for n in itertools.count(1):
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            return
        yield elapsed
        time.sleep(max(0.0, start + n * tick_s - time.monotonic()))


def write_steadily(crm: Engine, load: MixedLoad, per_s: float, seconds: float, tick_s: float) -> SteadyWrites:
    """Every tick, one transaction with the changes due by then (a late tick catches up)."""
    start, written, transactions, slowest = time.monotonic(), 0, 0, 0.0
    for elapsed in _ticks(tick_s, seconds):
        due = int(per_s * elapsed) - written
        if due <= 0:
            continue
        began = time.monotonic()
        with crm.begin() as conn:
            written += load.write(conn, due)
        transactions += 1
        slowest = max(slowest, time.monotonic() - began)
    return SteadyWrites(per_s, time.monotonic() - start, written, transactions, round(slowest * 1000, 1))
