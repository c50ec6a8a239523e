"""The webhook sources the registered vendors bring, looked up by name: which vendors may call us,
how each proves who it is (its verifier, with the secrets from the environment) and how its bodies
read (its payload format).

Secrets live in environment variables only; a source names one or two of them (the current
secret and, during a rotation, the next one) so both are accepted while the vendor switches over.
"""

from typing import Any

from cdc_sync.errors import ConfigError
from cdc_sync.inbound.payloads import PayloadFormat
from cdc_sync.inbound.verifiers import Verifier
from cdc_sync.model.config import SourceConfig
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.vendors.registry import DEFAULT_SOURCES, SOURCES, VERIFIER_SCHEMES

__all__ = ["DEFAULT_SOURCES", "FORMATS", "SourceConfig", "build_verifier", "check_media_type", "parse"]

FORMATS: dict[str, PayloadFormat[Any]] = {name: source.payload for name, source in SOURCES.items()}


def build_verifier(config: SourceConfig) -> Verifier:
    """The verifier for a source, with its secrets read from the environment now (ConfigError if none)."""
    factory = VERIFIER_SCHEMES.get(config.scheme)
    if factory is None:
        raise ConfigError(
            f"no signing scheme {config.scheme!r}; known: {', '.join(sorted(VERIFIER_SCHEMES))}"
        )
    secrets = tuple(secret.get_secret_value() for secret in config.secrets())
    try:
        return factory(secrets, config.tolerance_s)
    except ValueError as exc:
        raise ConfigError(f"{' / '.join(config.secret_envs)}: {exc}") from exc


def payload_format(source: str) -> PayloadFormat[Any]:
    try:
        return FORMATS[source]
    except KeyError:
        raise ConfigError(f"no payload format for webhook source {source!r}") from None


def check_media_type(source: str, content_type: str) -> None:
    payload_format(source).check_media_type(source, content_type)


def parse(source: str, content_type: str, body: bytes) -> InboundEvent:
    """The event in a webhook body; BadPayload says why there is none."""
    check_media_type(source, content_type)
    return payload_format(source).parse(source, body)
