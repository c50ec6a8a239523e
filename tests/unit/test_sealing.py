"""Envelope encryption of stored values: what is sealed opens only with its key, intact, in its
column; rows in clear still read; a rotation's previous key still opens."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from cdc_sync.data_keys import sealer_from
from cdc_sync.errors import ConfigError, SealedUnreadable
from cdc_sync.sealing import DataKey, Sealer, is_sealed, new_key_text, parse_key, sealed_kid
from cdc_sync.settings import Settings
from cdc_sync.store.rekey import needs_resealing, targets

OLD, NEW = parse_key(new_key_text(), "old"), parse_key(new_key_text(), "new")
LETTER = {"after": {"email": "ada@example.com", "phone": "+4930123456"}, "n": [1, 2.5, None, True]}
COLUMN = "dead_letters.payload"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(json_values)
def test_what_is_sealed_opens_as_it_was(value: Any) -> None:
    sealer = Sealer(NEW)
    assert sealer.open(sealer.seal(value, COLUMN), COLUMN) == value


def test_a_sealed_value_holds_no_plaintext_and_names_its_key() -> None:
    stored = Sealer(NEW).seal(LETTER, COLUMN)
    text = json.dumps(stored)
    assert "ada@example.com" not in text and "4930123456" not in text
    assert is_sealed(stored) and sealed_kid(stored) == NEW.kid
    assert base64.b64encode(NEW.secret).decode() not in text


def test_each_seal_is_fresh() -> None:
    sealer = Sealer(NEW)
    first, second = sealer.seal(LETTER, COLUMN), sealer.seal(LETTER, COLUMN)
    assert first["dek"] != second["dek"] and first["ct"] != second["ct"]


@pytest.mark.parametrize("field", ["ct", "dek"])
def test_an_altered_value_does_not_open(field: str) -> None:
    stored = Sealer(NEW).seal(LETTER, COLUMN)
    raw = bytearray(base64.b64decode(stored[field]))
    raw[-1] ^= 1
    tampered = {**stored, field: base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(SealedUnreadable, match="does not decrypt"):
        Sealer(NEW).open(tampered, COLUMN)


def test_a_value_copied_into_another_column_does_not_open() -> None:
    stored = Sealer(NEW).seal(LETTER, COLUMN)
    with pytest.raises(SealedUnreadable, match=r"inbox\.data does not decrypt"):
        Sealer(NEW).open(stored, "inbox.data")


def test_a_key_swapped_under_the_same_name_does_not_open() -> None:
    stored = {**Sealer(NEW).seal(LETTER, COLUMN), "kid": OLD.kid}
    with pytest.raises(SealedUnreadable, match="does not decrypt"):
        Sealer(OLD).open(stored, COLUMN)


def test_without_its_key_a_sealed_value_names_the_key_it_needs() -> None:
    stored = Sealer(OLD).seal(LETTER, COLUMN)
    with pytest.raises(SealedUnreadable, match=f"sealed with data key {OLD.kid}, which is not configured"):
        Sealer(NEW).open(stored, COLUMN)


def test_during_a_rotation_the_previous_key_opens_and_the_new_one_seals() -> None:
    stored = Sealer(OLD).seal(LETTER, COLUMN)
    rotating = Sealer(NEW, [OLD])
    assert rotating.open(stored, COLUMN) == LETTER
    resealed = rotating.seal(rotating.open(stored, COLUMN), COLUMN)
    assert sealed_kid(resealed) == NEW.kid and Sealer(NEW).open(resealed, COLUMN) == LETTER


def test_values_in_clear_still_read_and_are_rewritten_by_a_rotation() -> None:
    assert Sealer(NEW).open(LETTER, COLUMN) == LETTER
    assert Sealer(NEW).open({"cdc_sync_sealed": 1, "kid": "x"}, COLUMN) == {"cdc_sync_sealed": 1, "kid": "x"}
    assert needs_resealing(LETTER, NEW.kid) and needs_resealing([1], NEW.kid)
    assert not needs_resealing(None, NEW.kid)


def test_a_rotation_rewrites_only_what_the_current_key_did_not_seal() -> None:
    assert needs_resealing(Sealer(OLD).seal(LETTER, COLUMN), NEW.kid)
    assert not needs_resealing(Sealer(NEW).seal(LETTER, COLUMN), NEW.kid)
    assert needs_resealing(Sealer(NEW).seal(LETTER, COLUMN), None)  # to clear, on purpose
    assert not needs_resealing(LETTER, None)


def test_without_a_current_key_values_are_stored_as_they_are() -> None:
    assert Sealer(None).seal(LETTER, COLUMN) == LETTER
    assert Sealer(NEW).seal(None, COLUMN) is None  # SQL NULL / JSON null stays what it was


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_key_must_be_32_bytes_of_base64(text: str) -> None:
    with pytest.raises(ConfigError, match="CDC_SYNC_DATA_KEY must be the base64 of 32 random bytes"):
        parse_key(text, "CDC_SYNC_DATA_KEY")


def test_a_key_does_not_show_itself() -> None:
    key = DataKey(b"k" * 32)
    assert "kkkk" not in repr(key) and key.kid in repr(key)


def test_no_key_is_refused_unless_clear_storage_is_chosen() -> None:
    with pytest.raises(ConfigError, match="no data key: set CDC_SYNC_DATA_KEY"):
        sealer_from(Settings(data_key=None, data_key_file=None))
    assert sealer_from(Settings(data_key=None, data_key_file=None, plaintext_at_rest=True)).current is None


def test_keys_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    new, old = new_key_text(), new_key_text()
    (tmp_path / "key").write_text(new + "\n")
    sealer = sealer_from(
        Settings(data_key=None, data_key_file=tmp_path / "key", data_key_previous=SecretStr(old))
    )
    assert sealer.current_kid == parse_key(new, "").kid
    assert sealer.open(Sealer(parse_key(old, "")).seal(LETTER, COLUMN), COLUMN) == LETTER
    with pytest.raises(ConfigError, match=r"CDC_SYNC_DATA_KEY_FILE .*: No such file"):
        sealer_from(Settings(data_key=None, data_key_file=tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not both"):
        sealer_from(Settings(data_key=SecretStr(new), data_key_file=tmp_path / "key"))


def test_the_sealed_columns_are_the_payloads_that_hold_personal_data() -> None:
    sealed = {f"{t.table.name}.{c.name}" for t in targets() for c in t.columns}
    assert sealed == {
        "inbox.data",
        "dead_letters.payload",
        "dead_letters.response",
        "held_deliveries.delivery",
        "conflicts.crm_value",
        "conflicts.vendor_value",
        "conflicts.details",
    }
