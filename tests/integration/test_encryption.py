"""Encryption at rest on the real state database: payloads are ciphertext as PostgreSQL holds
them, an operator with the key reads them through the CLI as before, and `keys rotate` moves
them from the old key to the new one (after which only the new key reads them)."""

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from cdc_sync.model.inbound import InboundEvent
from cdc_sync.sealing import new_key_text, parse_key
from cdc_sync.settings import Settings
from cdc_sync.store import inbox
from cdc_sync.store.dead_letters import DeadLetter, add_dead_letter
from tests.integration.outbound_fixtures import CLI, ROOT

KEY_VARS = (
    "CDC_SYNC_DATA_KEY",
    "CDC_SYNC_DATA_KEY_FILE",
    "CDC_SYNC_DATA_KEY_PREVIOUS",
    "CDC_SYNC_PLAINTEXT_AT_REST",
)


def cli(keys: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A cdc-sync command with exactly these data-key variables (the rest of the stack's env)."""
    env = {name: value for name, value in os.environ.items() if name not in KEY_VARS}
    return subprocess.run(
        [CLI, *args], cwd=ROOT, env={**env, **keys}, capture_output=True, text=True, timeout=300, check=False
    )


def shown(keys: dict[str, str], letter: int) -> dict[str, Any]:
    done = cli(keys, "--show-pii", "dlq", "show", str(letter), "--json")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def stored(state: Engine, letter: int) -> dict[str, Any]:
    """The letter's payload and response as PostgreSQL holds them (not through the store)."""
    with state.connect() as conn:
        row = conn.execute(
            text(
                "SELECT payload::text AS payload, response::text AS response "
                "FROM cdc_sync.dead_letters WHERE id = :i"
            ),
            {"i": letter},
        ).one()
    return {"payload": row.payload, "response": row.response}


def kid_of(key: str) -> str:
    return parse_key(key, "key").kid


@pytest.fixture
def dev_key(settings: Settings) -> str:
    assert settings.data_key is not None, "ops/stack.sh env sets the dev stack's CDC_SYNC_DATA_KEY"
    return settings.data_key.get_secret_value()


@pytest.fixture
def email() -> str:
    return f"enc-{uuid.uuid4().hex[:10]}@example.com"


def letter_for(state: Engine, email: str) -> int:
    return add_dead_letter(
        state,
        DeadLetter(
            reason="encryption test: vendor refused",
            source=None,
            table="public.contacts",
            entity=f"contact:{email}",
            destination="marketing",
            payload={"after": {"email": email, "first_name": "Ada"}},
            response={"status": 400, "detail": f"{email} looks fake"},
        ),
    )


def test_dead_letter_payloads_are_ciphertext_in_the_database_and_read_with_the_key(
    state: Engine, dev_key: str, email: str
) -> None:
    letter = letter_for(state, email)

    raw = stored(state, letter)
    assert email not in raw["payload"] and "Ada" not in raw["payload"] and email not in raw["response"]
    assert json.loads(raw["payload"])["kid"] == kid_of(dev_key)

    read = shown({"CDC_SYNC_DATA_KEY": dev_key}, letter)
    assert read["payload"] == {"after": {"email": email, "first_name": "Ada"}}
    assert read["response"] == {"status": 400, "detail": f"{email} looks fake"}

    for keys in ({"CDC_SYNC_DATA_KEY": new_key_text()}, {"CDC_SYNC_PLAINTEXT_AT_REST": "true"}):
        refused = cli(keys, "dlq", "show", str(letter))
        assert refused.returncode == 1 and email not in refused.stdout + refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == (
            f"error: dead_letters.payload is sealed with data key {kid_of(dev_key)}, which is not configured "
            "(set it as CDC_SYNC_DATA_KEY or CDC_SYNC_DATA_KEY_PREVIOUS)"
        )

    missing = cli({}, "dlq", "show", str(letter))
    assert missing.returncode == 2 and "error: no data key: set CDC_SYNC_DATA_KEY" in missing.stderr


def test_inbox_events_are_stored_sealed_and_shown_in_clear(state: Engine, email: str) -> None:
    event = InboundEvent(
        source="marketing",
        event_id=f"enc-{uuid.uuid4()}",
        kind="email.clicked",
        entity=f"email:{email}",
        occurred_at=datetime.now(UTC),
        data={"email": email, "url": "https://example.com/offer"},
    )
    assert inbox.put_many(state, [event])
    with state.connect() as conn:
        inbox_id, raw = conn.execute(
            text("SELECT id, data::text FROM cdc_sync.inbox WHERE source = 'marketing' AND event_id = :e"),
            {"e": event.event_id},
        ).one()
    assert email not in raw and "cdc_sync_sealed" in raw
    assert inbox.get_event(state, inbox_id)["data"] == event.data


@pytest.fixture
def rotated_back(dev_key: str) -> Iterator[str]:
    """A new key for the test; afterwards the dead letters go back to the dev key (other tests
    and processes of the shared stack read them with it)."""
    new = new_key_text()
    yield new
    back = cli(
        {"CDC_SYNC_DATA_KEY": dev_key, "CDC_SYNC_DATA_KEY_PREVIOUS": new},
        "keys",
        "rotate",
        "--table",
        "dead_letters",
    )
    assert back.returncode == 0, back.stderr


def test_keys_rotate_reseals_with_the_new_key_after_which_only_it_is_needed(
    state: Engine, dev_key: str, email: str, rotated_back: str
) -> None:
    sealed = letter_for(state, email)
    with state.begin() as conn:  # a letter from before encryption, in clear
        in_clear = conn.execute(
            text(
                "INSERT INTO cdc_sync.dead_letters (entity, reason, payload) "
                "VALUES (:e, 'written in clear', CAST(:p AS jsonb)) RETURNING id"
            ),
            {"e": f"contact:{email}", "p": json.dumps({"email": email})},
        ).scalar_one()
    assert shown({"CDC_SYNC_DATA_KEY": dev_key}, in_clear)["payload"] == {"email": email}

    new = rotated_back
    rotate = cli(
        {"CDC_SYNC_DATA_KEY": new, "CDC_SYNC_DATA_KEY_PREVIOUS": dev_key},
        "keys",
        "rotate",
        "--table",
        "dead_letters",
        "--batch",
        "50",
        "--json",
    )
    assert rotate.returncode == 0, rotate.stderr
    result = json.loads(rotate.stdout)
    assert result["kid"] == kid_of(new) and result["resealed"]["dead_letters"] >= 2
    assert "dead_letters: " in rotate.stderr and " rows re-sealed" in rotate.stderr  # progress

    for letter in (sealed, in_clear):
        raw = stored(state, letter)
        assert email not in raw["payload"] and json.loads(raw["payload"])["kid"] == kid_of(new)
    only_new = {"CDC_SYNC_DATA_KEY": new}
    assert shown(only_new, sealed)["payload"] == {"after": {"email": email, "first_name": "Ada"}}
    assert shown(only_new, in_clear)["payload"] == {"email": email}
    old_only = cli({"CDC_SYNC_DATA_KEY": dev_key}, "dlq", "show", str(sealed))
    assert old_only.returncode == 1 and f"sealed with data key {kid_of(new)}" in old_only.stderr

    before = [stored(state, letter) for letter in (sealed, in_clear)]
    keys = {"CDC_SYNC_DATA_KEY": new, "CDC_SYNC_DATA_KEY_PREVIOUS": dev_key}
    again = cli(keys, "keys", "rotate", "--table", "dead_letters")
    assert again.returncode == 0, again.stderr
    assert [stored(state, letter) for letter in (sealed, in_clear)] == before  # done once, not again
