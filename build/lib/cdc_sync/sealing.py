"""Envelope encryption of stored values, pure: AES-256-GCM with a fresh data key per value.

A value is sealed into a JSON object that takes its place in the same column:
`{"cdc_sync_sealed": 1, "kid": ..., "dek": ..., "ct": ...}`. `ct` is the value's JSON encrypted
with a random 256-bit data key, `dek` that data key encrypted with the key-encryption key (the
operator's `CDC_SYNC_DATA_KEY`), `kid` names which one, so a rotation knows what to re-seal and a
missing key is named. Both carry their 12-byte nonce in front. The column's name is authenticated
with each (AAD): a sealed value copied into another column does not open.

Several keys open (the current one and the previous during a rotation); only the current one seals.
A value that is not an envelope opens as itself: rows written before encryption stay readable.
"""

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cdc_sync.errors import ConfigError, SealedUnreadable

MARK = "cdc_sync_sealed"
VERSION = 1
KEY_BYTES = 32
_NONCE_BYTES = 12
_FIELDS = frozenset({MARK, "kid", "dek", "ct"})


@dataclass(frozen=True, repr=False)
class DataKey:
    """A key-encryption key; `kid` names it without revealing it (a hash of the key)."""

    secret: bytes

    @property
    def kid(self) -> str:
        return hashlib.sha256(b"cdc-sync data key\x00" + self.secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"DataKey(kid={self.kid})"


def parse_key(text: str, name: str) -> DataKey:
    """A key as operators give it: the base64 of 32 random bytes (`openssl rand -base64 32`)."""
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise ConfigError(f"{name} must be the base64 of {KEY_BYTES} random bytes (openssl rand -base64 32)")
    return DataKey(secret)


def new_key_text() -> str:
    """A fresh key in the form `parse_key` takes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def is_sealed(stored: Any) -> bool:
    return isinstance(stored, dict) and stored.get(MARK) == VERSION and stored.keys() == _FIELDS


def sealed_kid(stored: Any) -> str | None:
    """The key a stored value is sealed with; None for a value in clear."""
    return str(stored["kid"]) if is_sealed(stored) else None


class Sealer:
    """Seals with the current key and opens with any of the keys; with no current key (the operator
    chose `CDC_SYNC_PLAINTEXT_AT_REST`) values are stored as they are."""

    def __init__(self, current: DataKey | None, previous: Sequence[DataKey] = ()) -> None:
        self.current = current
        self._keys = {key.kid: key for key in (*previous, *([current] if current else []))}

    @property
    def current_kid(self) -> str | None:
        return self.current.kid if self.current else None

    def seal(self, value: Any, column: str) -> Any:
        if self.current is None or value is None:
            return value
        plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        dek = AESGCM.generate_key(bit_length=256)
        kid = self.current.kid
        return {
            MARK: VERSION,
            "kid": kid,
            "dek": _encrypt(self.current.secret, dek, f"{column}\x00{kid}"),
            "ct": _encrypt(dek, plain, column),
        }

    def open(self, stored: Any, column: str) -> Any:
        if not is_sealed(stored):
            return stored
        kid = str(stored["kid"])
        key = self._keys.get(kid)
        if key is None:
            raise SealedUnreadable(
                f"{column} is sealed with data key {kid}, which is not configured "
                "(set it as CDC_SYNC_DATA_KEY or CDC_SYNC_DATA_KEY_PREVIOUS)"
            )
        try:
            dek = _decrypt(key.secret, stored["dek"], f"{column}\x00{kid}")
            return json.loads(_decrypt(dek, stored["ct"], column))
        except (InvalidTag, ValueError, TypeError) as exc:
            raise SealedUnreadable(
                f"{column} does not decrypt with data key {kid}: altered, or copied from another column"
            ) from exc


def _encrypt(key: bytes, plain: bytes, context: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, context.encode())).decode()


def _decrypt(key: bytes, packed: Any, context: str) -> bytes:
    raw = base64.b64decode(str(packed), validate=True)
    return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
