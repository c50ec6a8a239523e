"""Vendor webhook bodies → one `InboundEvent`. Pure: bytes in, an event or `BadPayload` out.

Each source has a `PayloadFormat` (its vendor folder's `webhooks.py`): a media type, a pydantic model
of the vendor's payload (unknown fields ignored, `VendorModel`) and a function from that model to the
event; the field types vendors share are here. Vendor values stay raw: mapping them to CRM enums is the
writer's job, so a new vendor value never costs us a webhook.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import parse_qsl

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from cdc_sync.errors import RejectedEvent
from cdc_sync.model.inbound import MAX_REASON, InboundEvent, readable, utc

MediaType = Literal["application/json", "application/x-www-form-urlencoded"]
PayloadProblem = Literal["media_type", "syntax", "model"]
"""Which layer refused a body: its declared type, its encoding (JSON / form), or its vendor model."""

_MAX_FORM_FIELDS = 1000


class BadPayload(RejectedEvent):
    """A body that can never become an event, with the layer that refused it."""

    def __init__(self, problem: PayloadProblem, reason: str) -> None:
        super().__init__(reason)
        self.problem: PayloadProblem = problem


def _plain(amount: Decimal) -> str:
    return f"{amount:f}"  # "100000", never "1E+5"


NaiveUtc = Annotated[datetime, AfterValidator(utc)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
# The CRM stores money as numeric(14, 2).
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), PlainSerializer(_plain)]
Ratio = Annotated[Decimal, Field(ge=0, le=1), PlainSerializer(_plain)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class VendorModel(BaseModel):
    # Vendors add fields freely and send ids as numbers or strings.
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


# --- decoding --------------------------------------------------------------
_BRACKETED_KEY = re.compile(r"[^\[\]]*(?:\[[^\[\]]*\])*")


def _key_path(key: str) -> list[str]:
    """`data[merges][FNAME]` → ["data", "merges", "FNAME"]; a key that is not bracketed stays whole."""
    if not _BRACKETED_KEY.fullmatch(key):
        return [key]
    return key.replace("]", "").split("[")


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in pairs:
        *parents, leaf = _key_path(key)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BadPayload("syntax", f"form field {key[:80]!r} is both a value and a group")
        if isinstance(node.get(leaf), dict):
            raise BadPayload("syntax", f"form field {key[:80]!r} is both a value and a group")
        node[leaf] = value
    return tree


def _form_document(body: bytes) -> object:
    try:
        text = body.decode()
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise BadPayload("syntax", f"body is not UTF-8 url-encoded form data: {exc}"[:MAX_REASON]) from None
    return _nested(pairs)


def _json_document(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadPayload("syntax", f"body is not JSON: {exc}"[:MAX_REASON]) from None


DECODERS: dict[MediaType, Callable[[bytes], object]] = {
    "application/json": _json_document,
    "application/x-www-form-urlencoded": _form_document,
}


Hook = TypeVar("Hook")


@dataclass(frozen=True)
class PayloadFormat(Generic[Hook]):
    media_type: MediaType
    model: TypeAdapter[Hook]
    to_event: Callable[[str, Hook], InboundEvent]

    def parse(self, source: str, body: bytes) -> InboundEvent:
        document = DECODERS[self.media_type](body)
        try:
            return self.to_event(source, self.model.validate_python(document))
        except ValidationError as exc:
            raise BadPayload("model", readable(exc)) from None

    def check_media_type(self, source: str, content_type: str) -> None:
        if media_type_of(content_type) != self.media_type:
            raise BadPayload("media_type", f"{source} takes {self.media_type}, not {content_type[:80]!r}")


def media_type_of(content_type: str) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return content_type.partition(";")[0].strip().lower()
