"""The data keys of encryption at rest, from the environment or secret files (`Settings`).

No key is a configuration error unless the operator chose to store payloads in clear
(`CDC_SYNC_PLAINTEXT_AT_REST=true`); the previous key may then still open what was sealed.
"""

import logging
from pathlib import Path

from pydantic import SecretStr

from cdc_sync.errors import ConfigError
from cdc_sync.observability.logs import register_secrets
from cdc_sync.sealing import DataKey, Sealer, parse_key
from cdc_sync.settings import Settings

log = logging.getLogger(__name__)
CURRENT, PREVIOUS = "CDC_SYNC_DATA_KEY", "CDC_SYNC_DATA_KEY_PREVIOUS"


def sealer_from(settings: Settings) -> Sealer:
    current = _key(settings.data_key, settings.data_key_file, CURRENT)
    previous = _key(settings.data_key_previous, settings.data_key_previous_file, PREVIOUS)
    if current is None and not settings.plaintext_at_rest:
        raise ConfigError(
            f"no data key: set {CURRENT} (or {CURRENT}_FILE) to the base64 of 32 random bytes "
            "(openssl rand -base64 32), or CDC_SYNC_PLAINTEXT_AT_REST=true to store payloads in clear"
        )
    if current is None:
        log.warning("CDC_SYNC_PLAINTEXT_AT_REST: payloads (inbox, dead letters, ...) are stored in clear")
    return Sealer(current, [previous] if previous else [])


def _key(value: SecretStr | None, path: Path | None, name: str) -> DataKey | None:
    if value is not None and path is not None:
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE {path}: {exc.strerror}") from exc
    elif value is not None and value.get_secret_value().strip():
        text = value.get_secret_value()
    else:
        return None
    register_secrets(text.strip())
    return parse_key(text, name)
